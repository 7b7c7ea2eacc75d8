/**
 * One log line as the index keeps it: the text searched and shown, and what links it to an issue,
 * a task and an agent.
 *
 * A pino line of the orchestra or a runner is shown as its message followed by its other fields
 * as `key=value` (not `time`, `level`, `pid`, `hostname`: they are columns or noise), so a search
 * finds words of the message and of the fields alike. Its `issue`, `taskId`, `stage` and `level`
 * are columns; its agent is its `actorId` (every line names its actor), or the runner's id.
 *
 * An agent's output line has no fields of its own: it belongs to the task whose start marker came
 * before it in the agent's files (`TaskContext`, carried from line to line and file to file), and
 * its time is that task's start — the pane log does not stamp lines. Lines outside any task take
 * the time of the last marker, else the start of the file's day.
 */
import { MARKER_PREFIX, parseMarker } from '../infra/panes/log.ts';
import type { SourceKind } from './sources.ts';

export interface LineFields {
  text: string;
  /** Epoch milliseconds. */
  time: number;
  issue?: number;
  taskId?: string;
  agent?: string;
  stage?: string;
  level?: string;
}

/** Where an agent's output stands after a line: the open task, and the last time known. */
export interface TaskContext {
  taskId?: string;
  issue?: number;
  time: number;
}

/** Text longer than this is cut before it is indexed (a line of megabytes is not a log line). */
export const MAX_TEXT = 16_384;
const HIDDEN_FIELDS = new Set(['msg', 'time', 'level', 'pid', 'hostname']);

function valueText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function cut(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
}

/** A pino JSON line's fields; a line that is not one (a stack trace printed raw) is kept as text. */
export function pinoLine(line: string, fallbackTime: number, agent?: string): LineFields {
  let record: Record<string, unknown> | undefined;
  if (line.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(line);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) record = parsed as Record<string, unknown>;
    } catch {
      record = undefined;
    }
  }
  if (record === undefined) return { text: cut(line), time: fallbackTime, ...(agent === undefined ? {} : { agent }) };
  const parts = typeof record.msg === 'string' ? [record.msg] : [];
  for (const [key, value] of Object.entries(record)) {
    if (!HIDDEN_FIELDS.has(key) && value !== undefined && value !== null) parts.push(`${key}=${valueText(value)}`);
  }
  const time = typeof record.time === 'string' || typeof record.time === 'number' ? new Date(record.time).getTime() : NaN;
  const actor = typeof record.actorId === 'string' ? record.actorId : agent;
  const fields: LineFields = { text: cut(parts.join(' ')), time: Number.isFinite(time) ? time : fallbackTime };
  if (Number.isSafeInteger(record.issue)) fields.issue = record.issue as number;
  if (typeof record.taskId === 'string') fields.taskId = record.taskId;
  if (actor !== undefined) fields.agent = actor;
  if (typeof record.stage === 'string') fields.stage = record.stage;
  if (typeof record.level === 'string') fields.level = record.level;
  else if (typeof record.level === 'number') fields.level = String(record.level);
  return fields;
}

/** An agent's output line, in the task context before it; returns the context after it. */
export function agentLine(line: string, agent: string, before: TaskContext): { fields: LineFields; after: TaskContext } {
  const marker = line.startsWith(MARKER_PREFIX) ? parseMarker(line) : undefined;
  if (marker === undefined) {
    const fields: LineFields = { text: cut(line), time: before.time, agent };
    if (before.issue !== undefined) fields.issue = before.issue;
    if (before.taskId !== undefined) fields.taskId = before.taskId;
    return { fields, after: before };
  }
  const at = new Date(marker.at).getTime();
  const time = Number.isFinite(at) ? at : before.time;
  const fields: LineFields = { text: cut(line), time, agent, issue: marker.issue, taskId: marker.taskId };
  const after: TaskContext =
    marker.kind === 'start' ? { taskId: marker.taskId, issue: marker.issue, time } : { time };
  return { fields, after };
}

/** Parses the fields of a line of a file of this kind. */
export function lineFields(kind: SourceKind, line: string, agent: string | undefined, context: TaskContext): { fields: LineFields; after: TaskContext } {
  if (kind === 'agent') return agentLine(line, agent ?? '', context);
  const fields = pinoLine(line, context.time, agent);
  return { fields, after: { time: fields.time } };
}

/** The start of the UTC day a `<day>.log` file is named after (epoch ms), else `fallback`. */
export function dayStart(name: string, fallback: number): number {
  const day = /(\d{4}-\d{2}-\d{2})\.log/.exec(name)?.[1];
  const time = day === undefined ? NaN : Date.parse(`${day}T00:00:00.000Z`);
  return Number.isFinite(time) ? time : fallback;
}
