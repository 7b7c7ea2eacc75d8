/**
 * Which issues may run: each issue's node in the dependency graph, and its entry in the ready
 * queue, follow its lifecycle (rebuilt from the records after a restart), and each waiting, queued
 * or blocked issue follows the graph.
 *
 * When a dependency counts as satisfied (a `done` node) depends on `workflow.dependencies.mode`:
 *   merged   its change is in the base branch: merged by the merge stage, or its pull request
 *            merged some other way (a route without a merge stage: looked up on the tracker);
 *            one with no pull request at all has nothing to merge and counts once done;
 *   stacked  its stages through `pr` succeeded (it is merging, or done): the dependent builds on
 *            its branch.
 * Dependencies outside the orchestra's scope count once closed on the tracker as completed (one
 * closed as not planned blocks its dependents), looked up every few seconds while something
 * depends on them.
 *
 * A route that needs a role the config does not define, or one whose agent program is not on this
 * host (`agents.<role>.command`, checked as its runner would: a few seconds' answer is reused), is
 * blocked with that reason before anything is dispatched — never a task that no runner will take,
 * which would keep batch mode waiting for ever. Once the program is there, the issue goes on.
 */
import { describeError } from '../errors.ts';
import type { IssueSource } from '../issues/source.ts';
import { missingRoles } from '../issues/routing.ts';
import type { NodeState } from '../machines/dag.ts';
import type { LifecycleEvent, RouteStage } from '../machines/issue-lifecycle.ts';
import type { Book, LifecycleSnapshot } from './book.ts';
import { queueEntryMoved, queueIdOf, queuedTaskOf } from './dispatcher.ts';
import { awaitsOutsideMerge, type FinishedIssue } from './finished.ts';
import { nodeStateOf } from './node-state.ts';
import type { IssueRecord } from './record.ts';

/** External dependencies are looked up on the tracker at most this often. */
const EXTERNAL_REFRESH_MS = 10_000;
/** A role's agent program is looked for at most this often. */
const PROGRAM_CHECK_MS = 5_000;

/**
 * The graph and the queue after a step of the lifecycle. Each change goes to the `dag` or
 * `scheduler` actor at once and throws when it cannot take it (src/workflow/ports.ts): the step
 * fails before its record is written.
 */
export function followLifecycle(book: Book, record: IssueRecord, previous: LifecycleSnapshot, next: LifecycleSnapshot): void {
  const id = queueIdOf(record.number);
  if (previous.value === 'queued' && next.value !== 'queued' && next.value !== 'running') book.queue.remove(id);
  if (previous.value === 'running' && next.value !== 'running') book.queue.finished(id);
  if (next.value === 'queued' && (previous.value !== 'queued' || queueEntryMoved(previous, next))) {
    book.queue.enqueue(queuedTaskOf(book.config, record, next));
  }
  const state = nodeStateOf(record, next, book.config.workflow.dependencies.mode);
  if (book.dag.graph.state(record.number) !== state) book.dag.setState(record.number, state);
}

/** A record read back from KV at start: its node in the graph, and its queue entry when it is queued or running. */
export function rebuildNode(book: Book, record: IssueRecord, snapshot: LifecycleSnapshot, dependsOn: readonly number[]): void {
  book.dag.setNode(record.number, dependsOn);
  book.dag.setState(record.number, nodeStateOf(record, snapshot, book.config.workflow.dependencies.mode));
  if (snapshot.value === 'queued') book.queue.enqueue(queuedTaskOf(book.config, record, snapshot));
  if (snapshot.value === 'running') book.queue.markRunning(queuedTaskOf(book.config, record, snapshot));
}

/** A finished issue's summary read back at start: its node in the graph, as the saved graph (`dag`) most often has it already. */
export function rebuildFinished(book: Book, finished: FinishedIssue, dependsOn: readonly number[]): void {
  const { graph } = book.dag;
  const state = finished.node[book.config.workflow.dependencies.mode];
  if (graph.state(finished.number) === undefined || graph.dependencies(finished.number).join() !== dependsOn.join()) book.dag.setNode(finished.number, dependsOn);
  if (graph.state(finished.number) !== state) book.dag.setState(finished.number, state);
}

/** What readiness needs besides the book: the tracker, and how to look for a role's agent program. */
export interface ReadinessOptions {
  source: IssueSource;
  /** Throws when the role's agent program is not on this host (src/agents/command-check.ts); absent: not looked for. */
  checkProgram?: (command: readonly string[]) => unknown;
}

export class Readiness {
  readonly #checkedAt = new Map<number, number>();
  /** Per role: when its program was looked for, and what is wrong with it (undefined: nothing). */
  readonly #programs = new Map<string, { at: number; problem: string | undefined }>();
  private readonly source: IssueSource;

  constructor(
    private readonly options: ReadinessOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.source = options.source;
  }

  /** Why the route cannot run on this host: a role missing from the config, or its agent program missing. */
  #unrunnable(book: Book, route: readonly RouteStage[]): string | undefined {
    const { config } = book;
    const missing = missingRoles(route, Object.keys(config.agents));
    if (missing.length > 0) return `no agent role ${missing.join(', ')} in the config (agents.${missing[0]})`;
    for (const role of new Set(route.map((stage) => stage.role))) {
      const agent = config.agents[role];
      if (!agent || !this.options.checkProgram) continue;
      let known = this.#programs.get(role);
      if (known === undefined || this.now() - known.at >= PROGRAM_CHECK_MS) {
        let problem: string | undefined;
        try {
          this.options.checkProgram(agent.command);
        } catch (error) {
          // The program's name only: the reason is posted on the tracker, the host's paths are not its business.
          const program = (agent.command[0] ?? '').split('/').pop();
          problem = `the agent program of role ${role} is not on the orchestra's host: command not found: ${program} (agents.${role}.command)`;
          if (known?.problem === undefined) book.log.warn({ role, err: describeError(error) }, 'agent program missing: the issues that need the role are blocked until it is there');
        }
        known = { at: this.now(), problem };
        this.#programs.set(role, known);
      }
      if (known.problem !== undefined) return known.problem;
    }
    return undefined;
  }

  /** Steps every issue whose dependencies changed, in memory: the caller commits the records it answers. */
  evaluate(book: Book): IssueRecord[] {
    const changed: IssueRecord[] = [];
    const graph = book.dag.graph;
    for (const record of book.records.values()) {
      const snapshot = book.snapshot(record.number);
      const state = String(snapshot.value);
      if (state !== 'discovered' && state !== 'waiting' && state !== 'blocked' && state !== 'queued') continue;
      const reason = this.#unrunnable(book, snapshot.context.route) ?? graph.blockedReason(record.number);
      let event: LifecycleEvent | undefined;
      // Not `graph.isReady`: an issue past its merge stage (deploying, say) is a satisfied node
      // for its dependents, and still has stages of its own to run.
      const on = reason === undefined ? graph.dependencies(record.number).filter((dependency) => graph.state(dependency) !== 'done') : [];
      if (reason !== undefined) {
        if (state !== 'blocked' || snapshot.context.reason !== reason) event = { type: 'deps.blocked', reason };
      } else if (on.length === 0) {
        if (state !== 'queued') event = { type: 'deps.ready' };
      } else if (state !== 'waiting' || on.join() !== snapshot.context.waitingOn.join()) {
        event = { type: 'deps.waiting', on };
      }
      if (event && book.step(record, event)) changed.push(record);
    }
    return changed;
  }

  /**
   * In the background: dependencies outside the scope (closed on the tracker yet?) and done
   * issues whose pull request someone else may have merged (a route without a merge stage). In
   * `stacked` mode such a merge also points the pull requests stacked on the issue's branch at
   * the base branch (the effect the merge stage's merge asks for), and lets a dependent's merge
   * stage, which waits for it, go on.
   */
  refresh(book: Book, now: number): void {
    const graph = book.dag.graph;
    for (const id of graph.nodes()) {
      if (!graph.isExternal(id) || graph.dependents(id).length === 0 || !this.#due(id, now)) continue;
      book.background.track(
        this.source.get(id).then(
          (issue) =>
            book.serially(async () => {
              // Closed as not planned: its work will never be merged, so its dependents are blocked, not freed.
              const state: NodeState =
                issue === undefined ? 'missing' : issue.state === 'open' ? 'pending' : issue.closedAs === 'not_planned' ? 'cancelled' : 'done';
              if (!book.dag.graph.isExternal(id) || book.dag.graph.state(id) === state) return;
              book.log.info({ issue: id, state }, 'dependency outside the orchestra\'s scope changed');
              book.dag.setState(id, state);
              await book.settle();
            }),
          (error: unknown) => book.log.warn({ issue: id, err: describeError(error) }, 'could not look up a dependency on the tracker; retried later'),
        ),
      );
    }
    // Done issues whose pull request is open, loaded or summed up: a finished one is read whole once it merged.
    const { mode } = book.config.workflow.dependencies;
    const open = [
      ...[...book.records.values()].filter((record) => !record.mergedOutside && book.snapshot(record.number).value === 'done').map((record) => [record.number, record.pullRequest?.number] as const),
      ...[...book.finished.values()].filter(awaitsOutsideMerge).map((finished) => [finished.number, finished.pullRequest?.number] as const),
    ];
    for (const [number, pull] of open) {
      if (pull === undefined || graph.dependents(number).length === 0 || !this.#due(number, now)) continue;
      book.background.track(
        this.source.pullRequest(pull).then(
          (state) =>
            book.serially(async () => {
              if (!state?.merged) return;
              const record = await book.load(number);
              if (!record || record.mergedOutside) return;
              record.mergedOutside = state.mergeCommitSha ?? state.headSha;
              book.log.info({ issue: number, pullRequest: pull, sha: record.mergedOutside }, 'pull request merged on the tracker');
              if (mode === 'stacked') {
                record.outbox.push({ type: 'retargetStacked', params: { generation: book.snapshot(number).context.generation }, at: book.now() });
              }
              await book.commit([record]);
              book.dag.setState(number, 'done');
              await book.settle();
            }),
          (error: unknown) => book.log.warn({ issue: number, err: describeError(error) }, 'could not look up a pull request; retried later'),
        ),
      );
    }
  }

  #due(id: number, now: number): boolean {
    if (now - (this.#checkedAt.get(id) ?? 0) < EXTERNAL_REFRESH_MS) return false;
    this.#checkedAt.set(id, now);
    return true;
  }
}
