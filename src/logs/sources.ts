/**
 * The log files the index reads, found under `<dataDir>/logs` (docs/OPERATIONS.md):
 *
 * - `orchestra.log` and its rotations (`orchestra.log.1`, any `*.log` or `*.log.<n>` at the top):
 *   the orchestra's pino JSON lines;
 * - `runners/<agent>.log` (and rotations): each runner's pino JSON lines;
 * - `agents/<agent>/<day>.log` (and `.log.1`, `.2` …): an agent's output, with task markers
 *   (src/infra/panes/log.ts).
 *
 * Nothing else is read: compressed rotations, the index itself and any other file (an env file
 * left there by mistake) stay out, so the index holds only what the loggers wrote, redacted.
 */
import { readdirSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';

export type SourceKind = 'orchestra' | 'runner' | 'agent';

export interface LogSource {
  /** Relative to the logs directory, with `/`: how results name the file. */
  name: string;
  kind: SourceKind;
  /** The runner's or agent's id (its file or directory name); undefined for the orchestra's log. */
  agent?: string;
  stat: Stats;
  /**
   * Reading order of one agent's output files: the day, then the rotation, oldest first
   * (`<day>.log.2`, `<day>.log.1`, `<day>.log`), so a task that crosses a rotation or midnight
   * carries on into the next file. Undefined for the other kinds.
   */
  sequence?: string;
}

const LOG_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*\.log(?:\.(\d{1,4}))?$/;
const DAY_LOG = /^(\d{4}-\d{2}-\d{2})\.log(?:\.(\d{1,4}))?$/;
const PLAIN_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

function entries(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function fileStat(file: string): Stats | undefined {
  try {
    const stat = statSync(file);
    return stat.isFile() ? stat : undefined;
  } catch {
    return undefined;
  }
}

/** Every log file under `logsDir` the index reads, oldest modified first. */
export function findLogSources(logsDir: string): LogSource[] {
  const found: LogSource[] = [];
  const add = (name: string, kind: SourceKind, agent?: string, sequence?: string) => {
    const stat = fileStat(path.join(logsDir, name));
    if (stat) found.push({ name, kind, stat, ...(agent === undefined ? {} : { agent }), ...(sequence === undefined ? {} : { sequence }) });
  };
  for (const name of entries(logsDir)) if (LOG_NAME.test(name)) add(name, 'orchestra');
  for (const name of entries(path.join(logsDir, 'runners'))) {
    if (LOG_NAME.test(name)) add(`runners/${name}`, 'runner', name.slice(0, name.indexOf('.log')));
  }
  for (const agent of entries(path.join(logsDir, 'agents'))) {
    if (!PLAIN_NAME.test(agent)) continue;
    for (const name of entries(path.join(logsDir, 'agents', agent))) {
      const day = DAY_LOG.exec(name);
      if (!day) continue;
      // Rotation 1 is newer than 2; the live file (no number) is the newest of its day.
      const rotation = day[2] === undefined ? 0 : Number(day[2]);
      add(`agents/${agent}/${name}`, 'agent', agent, `${day[1]}/${String(9999 - rotation).padStart(4, '0')}`);
    }
  }
  return found.sort((a, b) => a.stat.mtimeMs - b.stat.mtimeMs || a.name.localeCompare(b.name));
}
