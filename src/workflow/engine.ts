/**
 * The workflow engine, run by the `lifecycles` actor: every issue's lifecycle, stepped one event at a time, with the
 * dependency graph and the ready queue owned by its sibling actors (`dag`, `scheduler`, src/workflow/ports.ts). Each step:
 *
 *   1. the lifecycle machine answers its next snapshot and the effects it wants (pure);
 *   2. the snapshot and the effects (the outbox) are written to the KV bucket;
 *   3. the effects run, each idempotent by key (ledger in KV, and the tracker's own markers);
 *   4. the graph and the queue follow the new state (readiness.ts), ready work is dispatched on a branch the
 *      orchestra prepared (dispatcher.ts), and merging issues are looked at by the merge stage (merges.ts).
 *
 * The effects of step 3 are run by the issue's outbox (outbox.ts): the orchestra's own at once, the tracker writes in
 * the background.
 *
 * A crash anywhere replays from the last written record: tasks in flight are redelivered by JetStream, effects in the
 * outbox run again and find themselves done. I/O is injected; each step is told to `onTransition` (the console's history).
 */
import type { Logger } from 'pino';
import type { OrchestraConfig } from '../config/schema.ts';
import { routeIssue } from '../issues/routing.ts';
import { inertTransition } from '../machines/inert-transition.ts';
import { issueLifecycleMachine, type LifecycleEvent } from '../machines/issue-lifecycle.ts';
import type { TaskResult } from '../runner/task-message.ts';
import { Background } from './background.ts';
import { forEachConcurrently, type Book, type LifecycleSnapshot } from './book.ts';
import { Dispatcher, queuedTaskOf, type DispatchGate } from './dispatcher.ts';
import { toEffects, type EffectRunnerOptions } from './effects.ts';
import { MergeStage } from './merge-stage.ts';
import { MergeRunner } from './merges.ts';
import type { WorkflowMetrics } from './metrics.ts';
import type { GraphPort, QueuePort, WorkspacePort } from './ports.ts';
import { followLifecycle, Readiness, rebuildFinished, rebuildNode, type ReadinessOptions } from './readiness.ts';
import { Outbox } from './outbox.ts';
import type { IssueRecord, ObservedIssue } from './record.ts';
import { seenUnchanged, type FinishedIssue } from './finished.ts';
import { summaryRow, type SummaryRow } from './summary.ts';
import { failedWrites, isSettled, newRecord, relabelEvent, resultEvent } from './intake.ts';
import { WorkflowKpis, type KpiMetrics } from './kpis.ts';
import { SerialSteps } from './serial-steps.ts';
import { obeyOnce } from './obeyed-commands.ts';

export type { LifecycleSnapshot } from './book.ts';
export type { ObservedIssue } from './record.ts';

/** What the effects need (effects.ts), and the engine's own options. */
export interface WorkflowOptions extends EffectRunnerOptions, ReadinessOptions {
  /** The dependency file's edges (workflow.dependenciesFile), already parsed. */
  extraDependencies?: ReadonlyMap<number, readonly number[]>;
  /** The dependency graph and the ready queue: the `dag` and `scheduler` actors (src/workflow/ports.ts). */
  dag: GraphPort;
  scheduler: QueuePort;
  /** The target repository: branches made, restacked and merged by the orchestra. Without it agents' runners make branches from HEAD. */
  workspace?: WorkspacePort;
  metrics?: Pick<WorkflowMetrics, 'mergeStage' | 'humanIntervention' | 'trackerLag'> & KpiMetrics;
  now?: () => number;
  /** Asked before new work is dispatched: a reason (the disk is full) holds every task in the queue; an admission (the budget) some. */
  dispatchPaused?: DispatchGate;
  onTransition?: (record: IssueRecord, previous: LifecycleSnapshot, next: LifecycleSnapshot, event: LifecycleEvent) => void;
}

/** A lifecycle step: xstate's `transition`, without its throwaway actor per call (src/machines/inert-transition.ts). */
const transition = inertTransition(issueLifecycleMachine);

/**
 * Issues whose records and effects are in flight at once: enough to keep JetStream's batches full, few enough that the
 * last request of a batch is answered well within its timeout on a loaded host (each waits for those before it).
 */
const COMMIT_CONCURRENCY = 256;
/** Outboxes replayed at once after a restart. */
const REPLAY_CONCURRENCY = 64;
/** On close, how long a tracker write in flight may take to finish (it is replayed otherwise). */
const CLOSE_WAIT_MS = 5_000;

export class Workflow implements Book {
  readonly config: OrchestraConfig;
  readonly log: Logger;
  readonly dag: GraphPort;
  readonly queue: QueuePort;
  readonly background = new Background();
  /** The issues loaded whole: every open one, and the finished ones this run acted on. */
  readonly records = new Map<number, IssueRecord>();
  /** The finished issues of earlier runs, summed up (./finished.ts); loaded whole when acted on again (`load`). */
  readonly finished = new Map<number, FinishedIssue>();
  readonly now: () => number;
  readonly #options: WorkflowOptions;
  readonly #snapshots = new Map<number, LifecycleSnapshot>();
  readonly #outbox: Outbox;
  readonly #readiness: Readiness;
  readonly #dispatcher: Dispatcher;
  readonly #merges: MergeRunner;
  readonly #kpis: WorkflowKpis;
  readonly #steps = new SerialSteps();
  #dagSaved = -1;

  constructor(options: WorkflowOptions) {
    this.#options = options;
    this.config = options.config;
    this.log = options.logger;
    this.now = options.now ?? Date.now;
    this.dag = options.dag;
    this.queue = options.scheduler;
    this.#outbox = new Outbox(this, { ...options, drained: () => this.#merges.kick(this), onLabelLanded: (seconds) => options.metrics?.trackerLag(seconds) });
    this.#readiness = new Readiness(options, this.now);
    this.#dispatcher = new Dispatcher(options.store, options.workspace, options.dispatchPaused);
    const stage = new MergeStage({ ...options, workspace: options.workspace, now: this.now });
    this.#merges = new MergeRunner(stage, options.source, options.metrics);
    this.#kpis = new WorkflowKpis(this.config, options.metrics);
  }

  /** Loads the records of an earlier run (the finished ones' summaries: ./finished.ts), replays their outboxes, and schedules. */
  start(): Promise<void> {
    return this.serially(async () => {
      const { store } = this.#options;
      this.dag.load(await store.dag());
      const { records, finished } = await store.load();
      for (const summary of finished) {
        this.finished.set(summary.number, summary);
        rebuildFinished(this, summary, this.#dependenciesOf(summary));
      }
      for (const record of records) {
        const snapshot = issueLifecycleMachine.resolveState(record.snapshot as never);
        this.records.set(record.number, record);
        this.#snapshots.set(record.number, snapshot);
        rebuildNode(this, record, snapshot, this.#dependenciesOf(record));
      }
      if (this.records.size + this.finished.size > 0) this.log.info({ issues: this.records.size, finished: this.finished.size }, 'workflow state restored');
      await this.#outbox.replay([...this.records.values()], REPLAY_CONCURRENCY);
      await this.settle();
    });
  }

  /** A trusted open issue, new or seen again. */
  observe(observed: ObservedIssue): Promise<void> {
    return this.serially(async () => {
      const { number } = observed.issue;
      // Finished, open on the tracker and seen again as it was (every restart shows it once more): nothing to read.
      const finished = this.finished.get(number);
      if (finished && seenUnchanged(finished, observed)) return await this.settle();
      const existing = this.records.get(number) ?? (await this.load(number));
      const snapshot = this.#snapshots.get(number);
      if (!existing || !snapshot || snapshot.value === 'released') {
        await this.#create(observed, snapshot ? snapshot.context.generation + 1 : 1, existing);
      } else {
        const edited = existing.contentHash !== observed.contentHash;
        // Seen again as it was (after a restart, the watcher shows every issue once more): nothing to write.
        const changed = edited || existing.closed === true || JSON.stringify(existing.issue) !== JSON.stringify(observed.issue);
        existing.issue = observed.issue;
        existing.closed = false;
        if (edited) {
          existing.contentHash = observed.contentHash;
          existing.dependsOn = observed.dependsOn;
          this.dag.setNode(number, this.#dependenciesOf(existing));
          this.log.info({ issue: number }, 'issue edited');
        }
        const route = routeIssue(observed.issue.labels, this.config.workflow);
        const relabeled = relabelEvent(snapshot, route, this.now());
        if (edited && (snapshot.value === 'done' || snapshot.value === 'failed')) {
          await this.#send(existing, { type: 'issue.reset', reason: 'edited', route: route.stages, priority: route.priority, now: this.now() });
        } else if (relabeled && this.step(existing, relabeled)) {
          this.log.info({ issue: number, route: route.stages.map((stage) => stage.stage), priority: route.priority }, 'issue rerouted by its labels');
          this.#options.metrics?.humanIntervention('label_edit', number);
          await this.commit([existing]);
        } else if (changed) {
          await this.#options.store.putRecord(existing);
        }
      }
      await this.settle();
    });
  }

  /** The issue was closed, lost its trigger label or is no longer trusted. */
  release(number: number, reason: string): Promise<void> {
    return this.serially(async () => {
      const finished = this.finished.get(number);
      if (finished && (finished.state === 'released' || finished.closed)) return;
      const record = this.records.get(number) ?? (await this.load(number));
      const snapshot = this.#snapshots.get(number);
      if (!record || !snapshot || snapshot.value === 'released') return;
      if (snapshot.value === 'done' || snapshot.value === 'failed') {
        if (!record.closed) {
          record.closed = true;
          await this.#options.store.putRecord(record);
        }
        return;
      }
      // Closed by its own pull request's merge (`Closes #N`) before the merge stage saw it: merged, not released.
      if (await this.#merges.closedByMerge(this, record)) return;
      this.log.info({ issue: number, reason }, 'issue released');
      await this.#send(record, { type: 'issue.released', reason, now: this.now() });
      await this.settle();
    });
  }

  /** An agent's result for a task of ours. */
  result(result: TaskResult): Promise<void> {
    return this.serially(async () => {
      const record = this.records.get(result.issue);
      // Late news of a task of an issue finished before the restart: its lifecycle would ignore it too.
      if (!record && this.finished.has(result.issue)) return void this.log.debug({ issue: result.issue, taskId: result.taskId }, 'result for a finished issue; ignored');
      if (!record) return void this.log.warn({ issue: result.issue, taskId: result.taskId }, 'result for an issue the workflow does not know; ignored');
      // Before the step: the failure comment it may ask for quotes them.
      if (result.logTail) this.#outbox.keepLogTail(result.taskId, result.logTail);
      this.#kpis.result(result.taskId, result.durationMs, this.now());
      const before = this.#snapshots.get(record.number)!;
      await this.#send(record, resultEvent(result, this.now()));
      const after = this.#snapshots.get(record.number)!;
      const { taskId, status, reason } = result;
      if (status === 'retry' && after.value === 'running' && after.context.taskId === taskId) {
        // The runner runs it again itself (the message is redelivered): say so, or the log hides retries.
        this.log.info({ issue: record.number, stage: result.stage, role: result.role, attempt: after.context.attempt, taskId, reason }, 'stage redelivered');
      }
      if (before.value !== 'waiting_for_human' && after.value === 'waiting_for_human') this.#options.metrics?.humanIntervention('needs_input', record.number);
      await this.settle();
    });
  }

  /** `/miyabi retry` from a trusted commenter: a failed (or done) issue starts again, as a new generation. Each `id` once for good. */
  retry(number: number, by: string, id?: string): Promise<boolean> {
    return obeyOnce(this, number, id, async (record, state) => {
      if (state !== 'failed' && state !== 'done') return false;
      const route = routeIssue(record.issue.labels, this.config.workflow);
      this.log.info({ issue: number, by }, 'retry requested');
      this.#options.metrics?.humanIntervention('retry_command', number);
      await this.#send(record, { type: 'issue.reset', reason: `retry requested by ${by}`, route: route.stages, priority: route.priority, now: this.now() });
      return true;
    });
  }

  /** A trusted person's answer to the question an agent asked; false when the issue is not waiting for one. Each `id` once for good. */
  answer(number: number, answer: string, by: string, id?: string): Promise<boolean> {
    return obeyOnce(this, number, id, async (record, state) => {
      if (state !== 'waiting_for_human') return false;
      this.log.info({ issue: number, by }, 'question answered');
      await this.#send(record, { type: 'issue.answer', answer, by, now: this.now() });
      this.#options.metrics?.humanIntervention('answer', number);
      return true;
    });
  }

  /** Timers: retries that are due, effects that failed (a tracker outage), merges to look at, external dependencies. */
  tick(): Promise<void> {
    return this.serially(async () => {
      const now = this.now();
      for (const record of this.records.values()) {
        const snapshot = this.#snapshots.get(record.number)!;
        if (snapshot.value === 'retrying' && now >= (snapshot.context.retryAt ?? 0)) await this.#send(record, { type: 'retry.due', now });
        if (record.outbox.length > 0) await this.#outbox.drain(record);
      }
      this.#dispatcher.release(this, (record) => this.queue.enqueue(queuedTaskOf(this.config, record, this.#snapshots.get(record.number)!)));
      this.#readiness.refresh(this, now);
      this.#kpis.tick(this.records.values(), (number) => this.#snapshots.get(number), now);
      await this.settle();
    });
  }

  /** Nothing more will happen without something new from outside (every issue settled): batch mode stops. */
  settled(): boolean {
    return isSettled(this);
  }

  /** Tracker writes that have failed again and again, still waiting in their issue's outbox. */
  failedWrites(): Array<{ issue: number; effect: string; failures: number }> {
    return failedWrites(this);
  }

  /** Each issue's lifecycle state, finished ones' too (cheaper than `summary()`). */
  states(): Map<number, string> {
    const states = new Map([...this.finished.values()].map((finished) => [finished.number, finished.state as string]));
    for (const [number, snapshot] of this.#snapshots) states.set(number, String(snapshot.value));
    return states;
  }

  summary(): SummaryRow[] {
    const rows = [...this.records.values()].map((record) => summaryRow(record, this.#snapshots.get(record.number)!, (id) => this.dag.graph.isExternal(id)));
    return [...rows, ...[...this.finished.values()].map((finished) => finished.row)].sort((a, b) => a.issue - b.issue);
  }

  /** The lifecycle of an issue loaded whole (`records`); a finished one's summary is in `finished`. */
  snapshot(number: number): LifecycleSnapshot {
    return this.#snapshots.get(number)!;
  }

  /** A finished issue's whole record, read back from the KV bucket to act on it again; undefined when it is not one. Call it in a step. */
  async load(number: number): Promise<IssueRecord | undefined> {
    if (!this.finished.has(number)) return this.records.get(number);
    const record = await this.#options.store.record(number);
    if (!record) return undefined;
    this.finished.delete(number);
    this.records.set(number, record);
    this.#snapshots.set(number, issueLifecycleMachine.resolveState(record.snapshot as never));
    return record;
  }

  closed(): boolean {
    return this.#steps.closed;
  }

  /** Stops what may run for long (a CI command), first, so that a stop waits on nothing of it. */
  interrupt(): void {
    this.#merges.stop();
  }

  /** Waits for the steps queued so far (and a tracker write in flight, a few seconds at most); later events are dropped. */
  async close(): Promise<void> {
    this.interrupt();
    await this.#steps.close();
    await this.background.settledWithin(CLOSE_WAIT_MS);
  }

  /** Waits for the background work started so far (and what it starts in turn) to finish. */
  flush(): Promise<void> {
    return this.#steps.flush(this.background);
  }

  serially<T>(step: () => Promise<T>): Promise<T> {
    return this.#steps.run(step);
  }

  async #create(observed: ObservedIssue, generation: number, previous: IssueRecord | undefined): Promise<void> {
    const { record, snapshot, route } = newRecord(this.config, observed, generation, previous, this.now());
    this.records.set(record.number, record);
    this.#snapshots.set(record.number, snapshot);
    this.dag.setNode(record.number, this.#dependenciesOf(record));
    this.dag.setState(record.number, 'pending');
    this.log.info({ issue: record.number, route: route.stages.map((stage) => stage.stage), priority: route.priority }, 'issue discovered');
    await this.commit([record]);
  }

  async #send(record: IssueRecord, event: LifecycleEvent): Promise<void> {
    if (this.step(record, event)) await this.commit([record]);
  }

  step(record: IssueRecord, event: LifecycleEvent): boolean {
    const previous = this.#snapshots.get(record.number)!;
    const [next, actions] = transition(previous, event);
    const effects = toEffects(actions, this.now());
    if (next.value === previous.value && effects.length === 0 && next.context === previous.context) return false;
    this.#snapshots.set(record.number, next);
    record.snapshot = issueLifecycleMachine.getPersistedSnapshot(next);
    record.outbox.push(...effects);
    // The graph, the queue and the merge stage follow the lifecycle.
    followLifecycle(this, record, previous, next);
    if (next.value === 'merging' && previous.value !== 'merging') this.#merges.schedule(record.number);
    this.#kpis.transition(record, previous, next, this.now());
    this.#options.onTransition?.(record, previous, next, event);
    return true;
  }

  /**
   * Writes the records (snapshot and outbox) and runs their outboxes; one issue's effects keep their order.
   *
   * Issues' writes are in flight together (up to COMMIT_CONCURRENCY), not one after another: the connection keeps them
   * in the order they were sent and JetStream stores them in batches. Exactly once holds per issue, and issues are independent: an issue's
   * effects start only once the write holding them in its outbox is acknowledged (a crash before that loses the step,
   * never an effect; a crash after it replays the outbox, whose effects find themselves done), whatever the other
   * issues' writes are doing. Waits for every issue before it throws the first failure, so no write outlives the step.
   */
  async commit(records: readonly IssueRecord[]): Promise<void> {
    let failure: { error: unknown } | undefined;
    await forEachConcurrently(records, COMMIT_CONCURRENCY, async (record) => {
      try {
        await this.#options.store.putRecord(record);
        await this.#outbox.drain(record);
      } catch (error) {
        failure ??= { error };
      }
    });
    if (failure) throw failure.error;
  }

  #dependenciesOf(issue: Pick<IssueRecord, 'number' | 'dependsOn'>): number[] {
    const extra = this.#options.extraDependencies?.get(issue.number) ?? [];
    return [...new Set([...issue.dependsOn, ...extra])].sort((a, b) => a - b);
  }

  async settle(): Promise<void> {
    for (let round = 0; round < 100; round += 1) {
      // An issue that becomes ready and is dispatched in the same round is written once, queued and running at once:
      // its record is written before any of its effects run, which is all a replay needs. A crash before that write
      // finds it as it was, and readiness steps it again.
      const stepped = new Set(this.#readiness.evaluate(this));
      let dispatched = false;
      try {
        dispatched = await this.#dispatcher.schedule(this, stepped);
      } finally {
        await this.commit([...stepped]);
      }
      if (stepped.size === 0 && !dispatched) break;
    }
    if (this.dag.changes !== this.#dagSaved) {
      this.#dagSaved = this.dag.changes;
      await this.#options.store.putDag(this.dag.graph.toJSON());
    }
    this.#merges.kick(this);
  }
}
