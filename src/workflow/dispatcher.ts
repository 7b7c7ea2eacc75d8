/**
 * From the ready queue to `miyabi.tasks.<role>`: each task the scheduler hands out is either
 * skipped (its stage already succeeded with the same idempotency key: the cache) or dispatched,
 * after the orchestra prepared the issue's branch (branches.ts: made from the base branch or its
 * dependencies' branches, restacked when they moved on).
 *
 * A branch that cannot be prepared (git failed: a locked repository, a remote down) holds back
 * only its issue: it leaves the queue and comes back after a backoff, the others go on.
 *
 * While `paused` gives a reason (the data directory's disk is nearly full, the daily budget is
 * used up), nothing is taken from the queue: tasks at work finish, new ones wait, and the next
 * settle after it clears goes on. An admission instead (the budget past a share of its daily cap,
 * src/machines/budget.ts) lets only some priorities and roles go; the others wait in the queue.
 *
 * The budget also says so on the issues it holds back: each queued one the admission does not let
 * go (dispatch paused, its priority past the admitted one, its role's own daily cap used up) is
 * held (`budget.hold`: the state label `budget_hold`), and when the daily budget is used up, with
 * `budget.atLimit: stop`, each running one is stopped (`budget.stop`: its agent stopped, its task
 * failed with `budget_exceeded`, held queued); once the admission lets them go they are released
 * (`budget.release`: `pending` again).
 */
import { describeError } from '../errors.ts';
import { slaMsOf } from '../issues/routing.ts';
import { sha256 } from '../issues/text.ts';
import type { OrchestraConfig } from '../config/schema.ts';
import type { QueuedTask } from '../machines/scheduler.ts';
import { heldBack, restricts, type Admission } from '../machines/budget.ts';
import type { StageResult } from '../agents/task.ts';
import { forEachConcurrently, issueFacts, type Book, type LifecycleSnapshot } from './book.ts';
import { BranchPlanner, type DependencyBranch, type PreparedBranch } from './branches.ts';
import type { EffectContext } from './effects.ts';
import type { WorkspacePort } from './ports.ts';
import type { IssueRecord } from './record.ts';
import type { WorkflowStore } from './store.ts';

const PREPARE_CONCURRENCY = 8;
const CACHE_READ_CONCURRENCY = 256;
const PREPARE_RETRY_MS = [1_000, 5_000, 30_000];

/** Asked before new work is dispatched: a reason holds every task in the queue; an admission lets some go. */
export type DispatchGate = () => Promise<string | Omit<Admission, 'share'> | undefined>;

export class Dispatcher {
  readonly #branches: BranchPlanner | undefined;
  /** Issues whose branch could not be prepared: out of the queue until then. */
  readonly #heldBack = new Map<number, { at: number; failures: number }>();

  #pausedFor: string | undefined;
  /** Whether held issues may be about (true at start: a restart may find some, held before it). */
  #budgetHolds = true;

  constructor(
    private readonly store: WorkflowStore,
    workspace: WorkspacePort | undefined,
    private readonly paused: DispatchGate = async () => undefined,
  ) {
    this.#branches = workspace ? new BranchPlanner(workspace) : undefined;
  }

  /** Dispatches what may start now, stepping the issues in memory and adding them to `stepped` (the caller commits them); true when anything was taken. */
  async schedule(book: Book, stepped: Set<IssueRecord>): Promise<boolean> {
    const gate = await this.paused();
    const reason = typeof gate === 'string' ? gate : gate?.paused;
    // Said once when it pauses and once when it resumes.
    if (reason !== undefined && this.#pausedFor === undefined) book.log.warn({ reason }, 'dispatch paused');
    if (reason === undefined && this.#pausedFor !== undefined) book.log.info('dispatch resumed');
    this.#pausedFor = reason;
    // A full disk says nothing of the budget: what the budget holds stays held, and labelled so.
    if (typeof gate !== 'string') await this.#followBudget(book, gate);
    if (reason !== undefined) return false;
    const taken = book.queue.take(book.now(), typeof gate === 'object' ? gate : undefined);
    if (taken.length === 0) return false;
    // The tasks' cache entries asked many at once (reads of the KV bucket); the branches, which run git, a few at a time.
    const cache = new Map<string, StageResult | undefined>();
    await forEachConcurrently(taken, CACHE_READ_CONCURRENCY, async (task) => {
      const record = book.records.get(task.issue)!;
      const { context } = book.snapshot(task.issue);
      // A conflict to resolve is work the cached run did not do.
      cache.set(task.id, context.conflict ? undefined : await this.store.cached(stageKey(book, record, context.route[context.stageIndex]!.stage)));
    });
    const prepared = new Map<string, PreparedBranch | Error>();
    if (this.#branches) {
      await forEachConcurrently(
        taken.filter((task) => cache.get(task.id)?.status !== 'success'),
        PREPARE_CONCURRENCY,
        async (task) => {
          const record = book.records.get(task.issue)!;
          prepared.set(task.id, await this.#prepare(book, record).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))));
        },
      );
    }
    for (const task of taken) {
      const record = book.records.get(task.issue)!;
      const cached = cache.get(task.id);
      const { context } = book.snapshot(task.issue);
      if (cached && cached.status === 'success') {
        book.log.info({ issue: task.issue, stage: context.route[context.stageIndex]!.stage }, 'stage already succeeded with the same content; skipped (cache)');
        if (book.step(record, { type: 'stage.cached', result: cached, now: book.now() })) stepped.add(record);
        book.queue.finished(task.id);
        continue;
      }
      const branch = prepared.get(task.id);
      if (branch instanceof Error) {
        this.#holdBack(book, task, branch);
        continue;
      }
      this.#heldBack.delete(task.issue);
      if (branch?.conflict) book.log.info({ issue: task.issue, files: branch.conflict.files, during: branch.conflict.during }, 'conflict for the agent to resolve');
      if (branch?.conflict && context.stageIndex > 0) {
        // Only the first stage resolves a conflict: back there, as after a merge conflict.
        if (book.step(record, { type: 'branch.conflict', conflict: branch.conflict, now: book.now() })) stepped.add(record);
        book.queue.finished(task.id);
        continue;
      }
      const event = { type: 'stage.dispatch' as const, now: book.now(), ...(branch ? { git: branch.git } : {}), ...(branch?.conflict ? { conflict: branch.conflict } : {}) };
      if (book.step(record, event)) stepped.add(record);
    }
    return true;
  }

  /**
   * Holds the queued issues the admission holds back (and stops the running ones when the daily
   * budget is used up, `atLimit: stop`); releases each once the admission lets it go. Each step is
   * the lifecycle's, guarded there, so an issue is labelled once however often this runs.
   */
  async #followBudget(book: Book, admitted: Omit<Admission, 'share'> = {}): Promise<void> {
    const restricted = restricts(admitted);
    if (!restricted && !this.#budgetHolds) return;
    this.#budgetHolds = restricted;
    const stop = admitted.paused !== undefined && book.config.budget.atLimit === 'stop';
    const now = book.now();
    const stepped: IssueRecord[] = [];
    for (const record of book.records.values()) {
      const { value, context } = book.snapshot(record.number);
      const held = value === 'queued' ? heldBack(admitted, context.priority, context.route[context.stageIndex]?.role ?? 'none') : undefined;
      const event =
        held !== undefined && context.budgetHeld !== true
          ? { type: 'budget.hold' as const, reason: held, now }
          : value === 'queued' && held === undefined && context.budgetHeld === true
            ? { type: 'budget.release' as const, now }
            : value === 'running' && stop
              ? { type: 'budget.stop' as const, reason: admitted.paused!, now }
              : undefined;
      if (event === undefined || !book.step(record, event)) continue;
      stepped.push(record);
      if (event.type === 'budget.stop') book.log.warn({ issue: record.number, taskId: context.taskId }, 'agent stopped: the daily budget is used up (budget.atLimit: stop)');
    }
    if (stepped.length > 0) await book.commit(stepped);
  }

  /** Issues held back whose time has come go back in the queue. */
  release(book: Book, enqueue: (record: IssueRecord) => void): void {
    const now = book.now();
    for (const [issue, held] of this.#heldBack) {
      if (now < held.at) continue;
      const record = book.records.get(issue);
      if (record && book.snapshot(issue).value === 'queued') enqueue(record);
      held.at = Number.POSITIVE_INFINITY;
    }
  }

  #holdBack(book: Book, task: QueuedTask, error: Error): void {
    const held = this.#heldBack.get(task.issue) ?? { at: 0, failures: 0 };
    held.failures += 1;
    held.at = book.now() + PREPARE_RETRY_MS[Math.min(held.failures, PREPARE_RETRY_MS.length) - 1]!;
    this.#heldBack.set(task.issue, held);
    book.queue.finished(task.id);
    book.queue.remove(task.id);
    book.log.warn({ issue: task.issue, failures: held.failures, err: describeError(error) }, 'could not prepare the issue\'s branch; tried again later');
  }

  #prepare(book: Book, record: IssueRecord): Promise<PreparedBranch> {
    const { context } = book.snapshot(record.number);
    const { workflow, workspace } = book.config;
    const dependencies: DependencyBranch[] = book.dag.graph.dependencies(record.number).flatMap((dependency) => {
      const facts = issueFacts(book, dependency);
      if (!facts) return [];
      const { merged } = facts;
      return [{ number: dependency, branch: `${workspace.branchPrefix}${dependency}`, merged: merged !== undefined, ...(merged ? { mergeCommit: merged } : {}) }];
    });
    return this.#branches!.prepare({
      branch: `${workspace.branchPrefix}${record.number}`,
      mode: workflow.dependencies.mode,
      previous: context.git,
      dependencies,
    });
  }
}

/**
 * The idempotency key of a stage run: the issue, the stage, the issue's content, what its
 * dependencies produced and what the issue's other stages produced (a second codegen round
 * after a review's feedback is another run). The same key succeeded once → not run again.
 */
export function stageKey(book: Book, record: IssueRecord, stage: string): string {
  const { results } = book.snapshot(record.number).context;
  const others = Object.entries(results)
    .filter(([name]) => name !== stage)
    .sort(([a], [b]) => a.localeCompare(b));
  const dependencies = book.dag.graph.dependencies(record.number).map((dependency) => `${dependency}:${issueFacts(book, dependency)?.resultsDigest() ?? 'external'}`);
  return `${record.number}.${stage}.${sha256(record.contentHash, JSON.stringify(others), ...dependencies).slice(0, 32)}`;
}

/** What an effect of the issue needs from the book when it runs (./effects.ts), read as it is then. */
export function effectContextOf(book: Book, record: IssueRecord, logTail: (taskId: string) => string[] | undefined): EffectContext {
  return {
    lifecycle: book.snapshot(record.number).context,
    stageKey: (stage) => stageKey(book, record, stage),
    logTail,
    dependentPulls: () =>
      book.dag.graph.dependents(record.number).flatMap((issue) => {
        const pullRequest = issueFacts(book, issue)?.pullRequest;
        return pullRequest === undefined ? [] : [{ issue, pullRequest }];
      }),
    merged: (issue) => issueFacts(book, issue)?.merged !== undefined,
  };
}

export function queueIdOf(issue: number): string {
  return `issue-${issue}`;
}

/** A queued issue whose entry changed (another stage, route or priority): it is queued again. */
export function queueEntryMoved(previous: LifecycleSnapshot, next: LifecycleSnapshot): boolean {
  const [before, after] = [previous.context, next.context];
  return before.stageIndex !== after.stageIndex || before.route !== after.route || before.priority !== after.priority;
}

/** The queue's entry for an issue's current stage: its role, priority and SLA deadline. */
export function queuedTaskOf(config: OrchestraConfig, record: IssueRecord, snapshot: LifecycleSnapshot): QueuedTask {
  const { context } = snapshot;
  return {
    id: queueIdOf(record.number),
    issue: record.number,
    role: context.route[context.stageIndex]?.role ?? 'none',
    priority: context.priority,
    enqueuedAt: record.discoveredAt,
    deadline: record.discoveredAt + slaMsOf(context.priority, config.workflow),
  };
}
