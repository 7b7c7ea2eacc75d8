/**
 * The workflow engine: every issue's lifecycle, the dependency graph between them and the queue
 * of work, in one place, stepped one event at a time. Each step:
 *
 *   1. the lifecycle machine answers its next snapshot and the effects it wants (pure);
 *   2. the snapshot and the effects (the outbox) are written to the KV bucket;
 *   3. the effects run, each idempotent by key (ledger in KV, and the tracker's own markers);
 *   4. the graph and the queue follow the new state, and ready work is dispatched.
 *
 * A crash anywhere replays from the last written record: tasks in flight are redelivered by
 * JetStream, effects in the outbox run again and find themselves done. Events come from the
 * workflow actor (issue observations and task results off the bus, timer ticks); I/O is injected.
 */
import type { Logger } from 'pino';
import { initialTransition, transition, type SnapshotFrom } from 'xstate';
import type { StageResult } from '../agents/task.ts';
import type { OrchestraConfig } from '../config/schema.ts';
import { describeError } from '../errors.ts';
import { routeIssue, slaMsOf, missingRoles } from '../issues/routing.ts';
import { sha256 } from '../issues/text.ts';
import type { NodeState } from '../machines/dag.ts';
import {
  issueLifecycleMachine,
  type LifecycleEvent,
} from '../machines/issue-lifecycle.ts';
import type { QueuedTask } from '../machines/scheduler.ts';
import type { TaskResult } from '../runner/task-message.ts';
import { EffectRunner, toEffects, writesTracker, type EffectRunnerOptions } from './effects.ts';
import { summaryRow, type SummaryRow } from './summary.ts';
import type { GraphPort, QueuePort } from './ports.ts';
import type { IssueData, IssueRecord, WorkflowEffect } from './record.ts';

export type LifecycleSnapshot = SnapshotFrom<typeof issueLifecycleMachine>;

/** An issue as the watcher saw it, trusted and open. */
export interface ObservedIssue {
  issue: IssueData;
  contentHash: string;
  /** From the body and the tracker (front matter); the dependency file is added here. */
  dependsOn: number[];
}

/** What the effects need (effects.ts), and the engine's own options. */
export interface WorkflowOptions extends EffectRunnerOptions {
  /** The dependency file's edges (workflow.dependenciesFile), already parsed. */
  extraDependencies?: ReadonlyMap<number, readonly number[]>;
  /** The dependency graph and the ready queue: the `dag` and `scheduler` actors (src/workflow/ports.ts). */
  dag: GraphPort;
  scheduler: QueuePort;
  now?: () => number;
}

/** Lifecycle states from which nothing more happens by itself. */
const SETTLED = new Set(['done', 'failed', 'blocked', 'released']);
/** Issues whose records and effects are written at once: one issue's effects stay in order. */
const COMMIT_CONCURRENCY = 64;
/** After this many failures in a row a tracker write counts as stuck for batch mode (it is still retried). */
const WRITE_FAILURES_REPORTED = 3;
/** Log tails kept for failure comments. */
const LOG_TAILS_KEPT = 256;
/** On close, how long a tracker write in flight may take to finish (it is replayed otherwise). */
const CLOSE_WAIT_MS = 5_000;
/** External dependencies are looked up on the tracker at most this often. */
const EXTERNAL_REFRESH_MS = 10_000;

export class Workflow {
  readonly #options: WorkflowOptions;
  readonly #config: OrchestraConfig;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #records = new Map<number, IssueRecord>();
  readonly #snapshots = new Map<number, LifecycleSnapshot>();
  readonly #dag: GraphPort;
  readonly #queue: QueuePort;
  readonly #effects: EffectRunner;
  readonly #externalCheckedAt = new Map<number, number>();
  /** Per issue: its tracker writer's state (see #startWriter). */
  readonly #writers = new Map<number, { running: boolean; retryAt: number; failures: number }>();
  /** Background work in flight (tracker writes, dependency lookups), for `flush()` and `close()`. */
  readonly #background = new Set<Promise<unknown>>();
  /** The last lines an agent printed, by task, for the failure comment (not persisted: best effort). */
  readonly #logTails = new Map<string, string[]>();
  #serial: Promise<unknown> = Promise.resolve();
  #dagDirty = false;
  #closed = false;

  constructor(options: WorkflowOptions) {
    this.#options = options;
    this.#config = options.config;
    this.#log = options.logger;
    this.#now = options.now ?? Date.now;
    this.#effects = new EffectRunner(options);
    this.#dag = options.dag;
    this.#queue = options.scheduler;
  }

  /** Loads the records of an earlier run, replays their outboxes, and schedules. */
  start(): Promise<void> {
    return this.#serially(async () => {
      const dag = await this.#options.store.dag();
      this.#dag.load(dag);
      for (const record of await this.#options.store.records()) {
        const snapshot = issueLifecycleMachine.resolveState(record.snapshot as never);
        this.#records.set(record.number, record);
        this.#snapshots.set(record.number, snapshot);
        this.#dag.setNode(record.number, this.#dependenciesOf(record));
        this.#dag.setState(record.number, nodeStateOf(snapshot));
        if (snapshot.value === 'queued') this.#queue.enqueue(this.#queuedTask(record, snapshot));
        if (snapshot.value === 'running') this.#queue.markRunning(this.#queuedTask(record, snapshot));
      }
      if (this.#records.size > 0) this.#log.info({ issues: this.#records.size }, 'workflow state restored');
      // What was in an outbox may have been done before the crash: the ledger decides.
      for (const record of this.#records.values()) for (const effect of record.outbox) effect.replay = true;
      await forEachConcurrently([...this.#records.values()], COMMIT_CONCURRENCY, (record) => this.#drain(record));
      await this.#settle();
    });
  }

  /** A trusted open issue, new or seen again. */
  observe(observed: ObservedIssue): Promise<void> {
    return this.#serially(async () => {
      const { number } = observed.issue;
      const existing = this.#records.get(number);
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
          this.#dag.setNode(number, this.#dependenciesOf(existing));
          this.#dagDirty = true;
          this.#log.info({ issue: number }, 'issue edited');
        }
        if (edited && (snapshot.value === 'done' || snapshot.value === 'failed')) {
          const route = routeIssue(observed.issue.labels, this.#config.workflow);
          await this.#send(existing, { type: 'issue.reset', reason: 'edited', route: route.stages, priority: route.priority, now: this.#now() });
        } else if (changed) {
          await this.#options.store.putRecord(existing);
        }
      }
      await this.#settle();
    });
  }

  /** The issue was closed, lost its trigger label or is no longer trusted. */
  release(number: number, reason: string): Promise<void> {
    return this.#serially(async () => {
      const record = this.#records.get(number);
      const snapshot = this.#snapshots.get(number);
      if (!record || !snapshot || snapshot.value === 'released') return;
      if (snapshot.value === 'done' || snapshot.value === 'failed') {
        if (!record.closed) {
          record.closed = true;
          await this.#options.store.putRecord(record);
        }
        return;
      }
      this.#log.info({ issue: number, reason }, 'issue released');
      await this.#send(record, { type: 'issue.released', reason, now: this.#now() });
      await this.#settle();
    });
  }

  /** An agent's result for a task of ours. */
  result(result: TaskResult): Promise<void> {
    return this.#serially(async () => {
      const record = this.#records.get(result.issue);
      if (!record) {
        this.#log.warn({ issue: result.issue, taskId: result.taskId }, 'result for an issue the workflow does not know; ignored');
        return;
      }
      // Before the step: the failure comment it may ask for quotes them.
      if (result.logTail) {
        this.#logTails.set(result.taskId, result.logTail);
        // Only a failure comment soon after reads them: keep the latest few, not every task ever.
        if (this.#logTails.size > LOG_TAILS_KEPT) this.#logTails.delete(this.#logTails.keys().next().value!);
      }
      await this.#send(record, {
        type: 'stage.result',
        outcome: {
          taskId: result.taskId,
          status: result.status,
          reason: result.reason,
          attempt: result.attempt,
          agentId: result.agentId,
          ...(result.summary === undefined ? {} : { summary: result.summary }),
          ...(result.outputs === undefined ? {} : { outputs: result.outputs }),
        },
        now: this.#now(),
      });
      await this.#settle();
    });
  }

  /** `/miyabi retry` from a trusted commenter: a failed (or done) issue starts again, as a new generation. */
  retry(number: number, by: string): Promise<boolean> {
    return this.#serially(async () => {
      const record = this.#records.get(number);
      const snapshot = this.#snapshots.get(number);
      if (!record || !snapshot || (snapshot.value !== 'failed' && snapshot.value !== 'done')) return false;
      const route = routeIssue(record.issue.labels, this.#config.workflow);
      this.#log.info({ issue: number, by }, 'retry requested');
      await this.#send(record, { type: 'issue.reset', reason: `retry requested by ${by}`, route: route.stages, priority: route.priority, now: this.#now() });
      await this.#settle();
      return true;
    });
  }

  /** Timers: retries that are due, effects that failed (a tracker outage), external dependencies. */
  tick(): Promise<void> {
    return this.#serially(async () => {
      const now = this.#now();
      for (const record of this.#records.values()) {
        const snapshot = this.#snapshots.get(record.number)!;
        if (snapshot.value === 'retrying' && now >= (snapshot.context.retryAt ?? 0)) {
          await this.#send(record, { type: 'retry.due', now });
        }
        if (record.outbox.length > 0) await this.#drain(record);
      }
      this.#refreshExternals(now);
      await this.#settle();
    });
  }

  /** Nothing more will happen without something new from outside (every issue settled). */
  settled(): boolean {
    for (const record of this.#records.values()) {
      // A tracker write that keeps failing (a revoked token, a missing permission) will not go
      // through by waiting: batch mode reports it (`failedWrites`) rather than wait for ever.
      const writesStuck = stuckWrite(record) !== undefined;
      if (record.outbox.some((effect) => !(writesStuck && writesTracker(effect)))) return false;
      const snapshot = this.#snapshots.get(record.number)!;
      const state = String(snapshot.value);
      if (SETTLED.has(state)) continue;
      // Waiting only on issues outside our scope (open on the tracker): nothing we run will free it.
      if (state === 'waiting' && snapshot.context.waitingOn.every((dependency) => this.#dag.graph.isExternal(dependency))) continue;
      return false;
    }
    return true;
  }

  /** Tracker writes that have failed again and again, still waiting in their issue's outbox. */
  failedWrites(): Array<{ issue: number; effect: string; failures: number }> {
    return [...this.#records.values()].flatMap((record) => {
      const stuck = stuckWrite(record);
      return stuck ? [{ issue: record.number, effect: stuck.type, failures: stuck.failures ?? 0 }] : [];
    });
  }

  /** Each issue's lifecycle state, for the metrics and the scope check (cheaper than `summary()`). */
  states(): Map<number, string> {
    return new Map([...this.#snapshots].map(([number, snapshot]) => [number, String(snapshot.value)]));
  }

  summary(): SummaryRow[] {
    return [...this.#records.values()]
      .sort((a, b) => a.number - b.number)
      .map((record) => summaryRow(record, this.#snapshots.get(record.number)!, (id) => this.#dag.graph.isExternal(id)));
  }

  /** Lifecycle snapshots by issue, for `dag show` and tests. */
  snapshot(number: number): LifecycleSnapshot | undefined {
    return this.#snapshots.get(number);
  }

  /** Waits for the steps queued so far (and a tracker write in flight, a few seconds at most); later events are dropped. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#serial.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all([...this.#background]), new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)))]);
    clearTimeout(timer);
  }

  #serially<T>(step: () => Promise<T>): Promise<T> {
    const next = this.#serial.then(() => {
      if (this.#closed) throw new Error('workflow closed');
      return step();
    });
    this.#serial = next.catch(() => undefined);
    return next;
  }

  async #create(observed: ObservedIssue, generation: number, previous: IssueRecord | undefined): Promise<void> {
    const { number } = observed.issue;
    const route = routeIssue(observed.issue.labels, this.#config.workflow);
    const { workflow } = this.#config;
    const [snapshot, actions] = initialTransition(issueLifecycleMachine, {
      number,
      route: route.stages,
      priority: route.priority,
      discoveredAt: this.#now(),
      maxAttempts: workflow.retry.maxAttempts,
      maxReviewRounds: workflow.maxReviewRounds,
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
      outbox: [...(previous?.outbox ?? []), ...toEffects(actions)],
      discoveredAt: this.#now(),
    };
    this.#records.set(number, record);
    this.#snapshots.set(number, snapshot);
    this.#dag.setNode(number, this.#dependenciesOf(record));
    this.#dag.setState(number, 'pending');
    this.#dagDirty = true;
    this.#log.info({ issue: number, route: route.stages.map((stage) => stage.stage), priority: route.priority }, 'issue discovered');
    await this.#commit([record]);
  }

  async #send(record: IssueRecord, event: LifecycleEvent): Promise<void> {
    if (this.#step(record, event)) await this.#commit([record]);
  }

  /** Steps the lifecycle in memory; true when something changed (then `#commit` it). */
  #step(record: IssueRecord, event: LifecycleEvent): boolean {
    const previous = this.#snapshots.get(record.number)!;
    const [next, actions] = transition(issueLifecycleMachine, previous, event);
    const effects = toEffects(actions);
    if (next.value === previous.value && effects.length === 0 && next.context === previous.context) return false;
    this.#snapshots.set(record.number, next);
    record.snapshot = issueLifecycleMachine.getPersistedSnapshot(next);
    record.outbox.push(...effects);
    this.#follow(record, previous, next);
    return true;
  }

  /**
   * Writes the records (snapshot and outbox) and runs their outboxes. Different issues go
   * concurrently; one issue's effects keep their order.
   */
  async #commit(records: readonly IssueRecord[]): Promise<void> {
    await forEachConcurrently(records, COMMIT_CONCURRENCY, async (record) => {
      await this.#options.store.putRecord(record);
      await this.#drain(record);
    });
  }

  /** The graph and the queue follow the lifecycle. */
  #follow(record: IssueRecord, previous: LifecycleSnapshot, next: LifecycleSnapshot): void {
    const id = queueId(record.number);
    if (previous.value === 'queued' && next.value !== 'queued' && next.value !== 'running') this.#queue.remove(id);
    if (previous.value === 'running' && next.value !== 'running') this.#queue.finished(id);
    if (next.value === 'queued' && (previous.value !== 'queued' || previous.context.stageIndex !== next.context.stageIndex)) {
      this.#queue.enqueue(this.#queuedTask(record, next));
    }
    const state = nodeStateOf(next);
    if (this.#dag.graph.state(record.number) !== state) {
      this.#dag.setState(record.number, state);
      this.#dagDirty = true;
    }
  }

  #queuedTask(record: IssueRecord, snapshot: LifecycleSnapshot): QueuedTask {
    const { context } = snapshot;
    return {
      id: queueId(record.number),
      issue: record.number,
      role: context.route[context.stageIndex]?.role ?? 'none',
      priority: context.priority,
      enqueuedAt: record.discoveredAt,
      deadline: record.discoveredAt + slaMsOf(context.priority, this.#config.workflow),
    };
  }

  #dependenciesOf(record: IssueRecord): number[] {
    const extra = this.#options.extraDependencies?.get(record.number) ?? [];
    return [...new Set([...record.dependsOn, ...extra])].sort((a, b) => a - b);
  }

  /** Dependencies, then the queue, until nothing changes. */
  async #settle(): Promise<void> {
    for (let round = 0; round < 100; round += 1) {
      const changed = await this.#evaluateDependencies();
      const dispatched = await this.#schedule();
      if (!changed && !dispatched) break;
    }
    if (this.#dagDirty) {
      this.#dagDirty = false;
      await this.#options.store.putDag(this.#dag.graph.toJSON());
    }
  }

  async #evaluateDependencies(): Promise<boolean> {
    const changed: IssueRecord[] = [];
    const roles = Object.keys(this.#config.agents);
    for (const record of this.#records.values()) {
      const snapshot = this.#snapshots.get(record.number)!;
      const state = String(snapshot.value);
      if (state !== 'discovered' && state !== 'waiting' && state !== 'blocked' && state !== 'queued') continue;
      const missing = missingRoles(snapshot.context.route, roles);
      const reason =
        missing.length > 0
          ? `no agent role ${missing.join(', ')} in the config (agents.${missing[0]})`
          : this.#dag.graph.blockedReason(record.number);
      let event: LifecycleEvent | undefined;
      if (reason !== undefined) {
        if (state !== 'blocked' || snapshot.context.reason !== reason) event = { type: 'deps.blocked', reason };
      } else if (this.#dag.graph.isReady(record.number)) {
        if (state !== 'queued') event = { type: 'deps.ready' };
      } else {
        const on = this.#dag.graph.dependencies(record.number).filter((dependency) => this.#dag.graph.state(dependency) !== 'done');
        if (state !== 'waiting' || on.join() !== snapshot.context.waitingOn.join()) event = { type: 'deps.waiting', on };
      }
      if (event && this.#step(record, event)) changed.push(record);
    }
    await this.#commit(changed);
    return changed.length > 0;
  }

  async #schedule(): Promise<boolean> {
    const taken = this.#queue.take(this.#now());
    const cache = new Map<string, StageResult | undefined>();
    await forEachConcurrently(taken, COMMIT_CONCURRENCY, async (task) => {
      const record = this.#records.get(task.issue)!;
      const { context } = this.#snapshots.get(task.issue)!;
      cache.set(task.id, await this.#options.store.cached(this.#stageKey(record, context.route[context.stageIndex]!.stage)));
    });
    const stepped: IssueRecord[] = [];
    for (const task of taken) {
      const record = this.#records.get(task.issue)!;
      const cached = cache.get(task.id);
      if (cached && cached.status === 'success') {
        const { context } = this.#snapshots.get(task.issue)!;
        this.#log.info({ issue: task.issue, stage: context.route[context.stageIndex]!.stage }, 'stage already succeeded with the same content; skipped (cache)');
        if (this.#step(record, { type: 'stage.cached', result: cached, now: this.#now() })) stepped.push(record);
        this.#queue.finished(task.id);
        continue;
      }
      if (this.#step(record, { type: 'stage.dispatch', now: this.#now() })) stepped.push(record);
    }
    await this.#commit(stepped);
    return taken.length > 0;
  }

  /**
   * The idempotency key of a stage run: the issue, the stage, the issue's content, what its
   * dependencies produced and what the issue's other stages produced (a second codegen round
   * after a review's feedback is another run). The same key succeeded once → not run again.
   */
  #stageKey(record: IssueRecord, stage: string): string {
    const { results } = this.#snapshots.get(record.number)!.context;
    const others = Object.entries(results)
      .filter(([name]) => name !== stage)
      .sort(([a], [b]) => a.localeCompare(b));
    const dependencies = this.#dag.graph.dependencies(record.number).map((dependency) => {
      const snapshot = this.#snapshots.get(dependency);
      return `${dependency}:${snapshot ? sha256(JSON.stringify(snapshot.context.results)) : 'external'}`;
    });
    return `${record.number}.${stage}.${sha256(record.contentHash, JSON.stringify(others), ...dependencies).slice(0, 32)}`;
  }

  /** Looks up the dependencies outside the scope on the tracker, in the background. */
  #refreshExternals(now: number): void {
    for (const id of this.#dag.graph.nodes()) {
      if (!this.#dag.graph.isExternal(id) || this.#dag.graph.dependents(id).length === 0) continue;
      if (now - (this.#externalCheckedAt.get(id) ?? 0) < EXTERNAL_REFRESH_MS) continue;
      this.#externalCheckedAt.set(id, now);
      this.#track(this.#options.source.get(id).then(
        (issue) =>
          this.#serially(async () => {
            const state: NodeState = issue === undefined ? 'missing' : issue.state === 'closed' ? 'done' : 'pending';
            if (!this.#dag.graph.isExternal(id) || this.#dag.graph.state(id) === state) return;
            this.#log.info({ issue: id, state }, 'dependency outside the orchestra\'s scope changed');
            this.#dag.setState(id, state);
            this.#dagDirty = true;
            await this.#settle();
          }).catch(() => undefined),
        (error: unknown) => this.#log.warn({ issue: id, err: describeError(error) }, 'could not look up a dependency on the tracker; retried later'),
      ));
    }
  }

  /**
   * Runs the record's outbox. The orchestra's own effects (tasks, cancels, events) run here, in
   * order; writes to the tracker go to the issue's tracker writer, which runs them in order in
   * the background, so a slow or unreachable tracker never holds up the work.
   */
  async #drain(record: IssueRecord): Promise<void> {
    if (record.outbox.length === 0) return;
    let changed = false;
    for (const effect of [...record.outbox]) {
      if (writesTracker(effect)) continue;
      try {
        await this.#run(record, effect);
        record.outbox.splice(record.outbox.indexOf(effect), 1);
        changed = true;
      } catch (error) {
        effect.failures = (effect.failures ?? 0) + 1;
        this.#log.warn({ issue: record.number, effect: effect.type, failures: effect.failures, err: describeError(error) }, 'side effect failed; retried next tick');
      }
    }
    if (changed) await this.#options.store.putRecord(record);
    this.#startWriter(record);
  }

  /** The tracker writer of one issue: its tracker effects, one at a time, oldest first. */
  #startWriter(record: IssueRecord): void {
    const writer = this.#writers.get(record.number) ?? { running: false, retryAt: 0, failures: 0 };
    this.#writers.set(record.number, writer);
    if (writer.running || this.#now() < writer.retryAt || this.#closed) return;
    if (!record.outbox.some(writesTracker)) return;
    writer.running = true;
    this.#track((async () => {
      try {
        for (let effect = record.outbox.find(writesTracker); effect && !this.#closed; effect = record.outbox.find(writesTracker)) {
          try {
            // Only the last state label counts: after an outage, catch up without the ones in between.
            if (!supersededLabel(record.outbox, effect)) await this.#run(record, effect);
          } catch (error) {
            effect.failures = (effect.failures ?? 0) + 1;
            writer.failures += 1;
            // The client has already retried what it could: wait before the next round.
            writer.retryAt = this.#now() + Math.min(60_000, 1_000 * 2 ** Math.min(writer.failures - 1, 6));
            this.#log.warn(
              { issue: record.number, effect: effect.type, failures: effect.failures, err: describeError(error) },
              'tracker write failed; the work goes on and the write is retried',
            );
            return;
          }
          writer.failures = 0;
          record.outbox.splice(record.outbox.indexOf(effect), 1);
          await this.#options.store.putRecord(record);
        }
      } catch (error) {
        this.#log.warn({ issue: record.number, err: describeError(error) }, 'could not record a tracker write; it is replayed');
      } finally {
        writer.running = false;
      }
    })());
  }

  #track(work: Promise<unknown>): void {
    const tracked = work.catch(() => undefined).finally(() => this.#background.delete(tracked));
    this.#background.add(tracked);
  }

  /** Waits for the background work started so far (and what it starts in turn) to finish. */
  async flush(): Promise<void> {
    // A step in progress may start background work, and background work may queue a step.
    for (;;) {
      const step = this.#serial;
      await step.catch(() => undefined);
      if (this.#background.size === 0 && step === this.#serial) return;
      await Promise.all([...this.#background]);
    }
  }

  #run(record: IssueRecord, effect: WorkflowEffect): Promise<void> {
    return this.#effects.run(record, effect, {
      lifecycle: this.#snapshots.get(record.number)!.context,
      stageKey: (stage) => this.#stageKey(record, stage),
      logTail: (taskId) => this.#logTails.get(taskId),
    });
  }
}

/** The issue's first pending tracker write, when it has failed too often: the writes go in order, so it holds back the rest. */
function stuckWrite(record: IssueRecord): WorkflowEffect | undefined {
  const first = record.outbox.find(writesTracker);
  return first && (first.failures ?? 0) >= WRITE_FAILURES_REPORTED ? first : undefined;
}

/** A state label that a later one in the outbox replaces. */
function supersededLabel(outbox: readonly WorkflowEffect[], effect: WorkflowEffect): boolean {
  return effect.type === 'setStateLabel' && outbox.slice(outbox.indexOf(effect) + 1).some((later) => later.type === 'setStateLabel');
}

/** Runs `work` over `items`, at most `limit` at a time. */
async function forEachConcurrently<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function queueId(number: number): string {
  return `issue-${number}`;
}

function nodeStateOf(snapshot: LifecycleSnapshot): NodeState {
  switch (snapshot.value) {
    case 'done':
      return 'done';
    case 'failed':
      return 'failed';
    case 'released':
      return 'cancelled';
    default:
      return 'pending';
  }
}
