/**
 * An issue's way in and the batch's way out: the record and lifecycle of an issue seen for the
 * first time (or again after a release, as a new generation), the route its labels say when they
 * change on the way, an agent's result as the event its lifecycle takes, and whether the whole
 * backlog has settled — nothing more will happen without something new from outside, so
 * `up --once` stops.
 */
import { initialTransition } from 'xstate';
import type { OrchestraConfig } from '../config/schema.ts';
import { routeIssue, type IssueRoute } from '../issues/routing.ts';
import { issueLifecycleMachine, type LifecycleEvent } from '../machines/issue-lifecycle.ts';
import type { Book, LifecycleSnapshot } from './book.ts';
import { toEffects, writesTracker } from './effects.ts';
import type { TaskResult } from '../runner/task-message.ts';
import type { IssueRecord, ObservedIssue } from './record.ts';
import { stuckWrite } from './tracker-writer.ts';

/** Lifecycle states from which nothing more happens by itself. */
const SETTLED = new Set(['done', 'failed', 'blocked', 'released', 'waiting_for_human', 'merge_blocked']);

/** A new record and lifecycle; effects an earlier generation left in its outbox are kept. */
export function newRecord(
  config: OrchestraConfig,
  observed: ObservedIssue,
  generation: number,
  previous: IssueRecord | undefined,
  now: number,
): { record: IssueRecord; snapshot: LifecycleSnapshot; route: IssueRoute } {
  const { number } = observed.issue;
  const route = routeIssue(observed.issue.labels, config.workflow);
  const { workflow } = config;
  const [snapshot, actions] = initialTransition(issueLifecycleMachine, {
    number,
    route: route.stages,
    priority: route.priority,
    discoveredAt: now,
    maxAttempts: workflow.retry.maxAttempts,
    maxReviewRounds: workflow.maxReviewRounds,
    maxCiRounds: workflow.maxCiRounds,
    maxConflictRounds: workflow.maxConflictRounds,
    retryInitialDelayMs: workflow.retry.initialDelayMs,
    retryMaxDelayMs: workflow.retry.maxDelayMs,
    stageStates: workflow.stageStates,
    generation,
  });
  const record: IssueRecord = {
    number,
    issue: observed.issue,
    contentHash: observed.contentHash,
    dependsOn: observed.dependsOn,
    snapshot: issueLifecycleMachine.getPersistedSnapshot(snapshot),
    outbox: [...(previous?.outbox ?? []), ...toEffects(actions, now)],
    discoveredAt: now,
    ...(previous?.commands ? { commands: previous.commands } : {}),
  };
  return { record, snapshot, route };
}

/** States in which the current stage has not started: its stage may still change with the route. */
const NOT_STARTED = new Set(['discovered', 'waiting', 'queued', 'blocked']);

/**
 * The labels say another route or priority than the issue has (a route label added a moment after
 * the trigger label): the event that moves it there, keeping the stages run or running — the
 * lifecycle refuses it when they would change. Undefined when nothing differs, or the issue is
 * finished (an edit starts a new generation instead).
 */
export function relabelEvent(snapshot: LifecycleSnapshot, route: IssueRoute, now: number): LifecycleEvent | undefined {
  const state = String(snapshot.value);
  const { context } = snapshot;
  if (state === 'done' || state === 'failed' || state === 'released') return undefined;
  if (route.priority === context.priority && JSON.stringify(route.stages) === JSON.stringify(context.route)) return undefined;
  const keep = context.stageIndex + (NOT_STARTED.has(state) ? 0 : 1);
  return { type: 'issue.relabeled', route: route.stages, priority: route.priority, keep, now };
}

/** The lifecycle's event for an agent's result: what the machine reads of it, optional fields only when present. */
export function resultEvent(result: TaskResult, now: number): LifecycleEvent {
  const { taskId, status, reason, attempt, agentId, summary, question, outputs, code } = result;
  return {
    type: 'stage.result',
    outcome: { taskId, status, reason, attempt, agentId, ...(summary === undefined ? {} : { summary }), ...(question === undefined ? {} : { question }), ...(outputs === undefined ? {} : { outputs }), ...(code === undefined ? {} : { code }) },
    now,
  };
}

export function isSettled(book: Book): boolean {
  for (const record of book.records.values()) {
    // A tracker write that keeps failing (a revoked token, a missing permission) will not go
    // through by waiting: batch mode reports it (`failedWrites`) rather than wait for ever.
    const writesStuck = stuckWrite(record) !== undefined;
    if (record.outbox.some((effect) => !(writesStuck && writesTracker(effect)))) return false;
    const snapshot = book.snapshot(record.number);
    const state = String(snapshot.value);
    if (SETTLED.has(state)) continue;
    // Waiting only on issues outside our scope (open on the tracker): nothing we run will free it.
    if (state === 'waiting' && snapshot.context.waitingOn.every((dependency) => book.dag.graph.isExternal(dependency))) continue;
    // Waiting for a person to merge (auto-merge off): nothing we do will merge it.
    if (state === 'merging' && snapshot.context.reason?.includes('workflow.merge.auto is off')) continue;
    return false;
  }
  return true;
}

export function failedWrites(book: Book): Array<{ issue: number; effect: string; failures: number }> {
  return [...book.records.values()].flatMap((record) => {
    const stuck = stuckWrite(record);
    return stuck ? [{ issue: record.number, effect: stuck.type, failures: stuck.failures ?? 0 }] : [];
  });
}
