/**
 * The `merge` stage, run by the orchestra rather than an agent. One look at an issue in
 * `merging` (or `merge_blocked`) answers the lifecycle event that says what it found:
 *
 *   1. the pull request merged already (a replay after a crash, a person)   → merge.done
 *   2. stacked mode: a dependency not merged yet                            → merge.waiting
 *      (once they are: the branch restacked onto the base branch; the pull request was
 *      retargeted there by the dependency's merge, effects.ts — or here, if it was not)
 *   3. the branch pushed to the tracker (refused: someone else's commits    → merge.blocked
 *      there, never forced over);
 *      CI on its head: running                                              → merge.waiting
 *                                                      red                  → merge.ci_failed
 *   4. auto-merge off                                                       → merge.waiting (a person merges)
 *   5. the tracker merges it                                                → merge.done
 *      refuses (a protected branch; the head moved)                         → merge.blocked
 *      conflicts with the base branch                                       → merge.conflict
 *
 * The review's approval is the lifecycle's own doing: an issue reaches `merging` only after
 * every stage before it succeeded. Exactly once: the tracker's merge is idempotent (an already
 * merged pull request answers so), and the lifecycle records the merge before anything else.
 */
import type { Logger } from 'pino';
import type { OrchestraConfig } from '../config/schema.ts';
import type { ConflictReport } from '../agents/task.ts';
import type { IssueSource, MergeOutcome, PullRequestState } from '../issues/source.ts';
import type { LifecycleContext, LifecycleEvent } from '../machines/issue-lifecycle.ts';
import { BranchPlanner } from './branches.ts';
import { CiJudge } from './ci.ts';
import { PushRefused, type WorkspacePort } from './ports.ts';
import type { IssueRecord } from './record.ts';
import type { WorkflowStore } from './store.ts';

export interface MergeDependency {
  number: number;
  merged: boolean;
  /** Failed, released or blocked: it will not merge by itself. */
  stuck: string | undefined;
}

export interface MergeStageOptions {
  config: OrchestraConfig;
  source: IssueSource;
  store: WorkflowStore;
  workspace: WorkspacePort | undefined;
  logger: Logger;
  now(): number;
}

export class MergeStage {
  readonly #options: MergeStageOptions;
  readonly #ci: CiJudge;

  constructor(options: MergeStageOptions) {
    this.#options = options;
    this.#ci = new CiJudge(options);
  }

  /** The orchestra stops: a CI command that runs stops too (./ci.ts). */
  stop(): void {
    this.#ci.stop();
  }

  /** Whether the orchestra merges by itself: `workflow.merge.auto`, by default on for the local source only. */
  get auto(): boolean {
    const { config, source } = this.#options;
    return config.workflow.merge.auto ?? source.kind === 'local';
  }

  async check(record: IssueRecord, context: LifecycleContext, dependencies: readonly MergeDependency[]): Promise<LifecycleEvent> {
    const { source, config, workspace, logger } = this.#options;
    const now = this.#options.now;
    const method = config.workflow.merge.method;
    if (!record.pullRequest) {
      return { type: 'merge.failed', reason: 'the merge stage needs a pull request: put a pr stage before merge in the route', now: now() };
    }
    const number = record.pullRequest.number;
    const pull = await source.pullRequest(number);
    if (!pull) return { type: 'merge.failed', reason: `pull request #${number} is not on the tracker`, now: now() };
    if (pull.merged) return { type: 'merge.done', sha: pull.mergeCommitSha ?? pull.headSha, method, now: now() };
    if (pull.state === 'closed') return { type: 'merge.failed', reason: `pull request #${number} was closed without being merged`, now: now() };

    if (context.git?.mode === 'stacked') {
      const stuck = dependencies.find((dependency) => dependency.stuck !== undefined);
      if (stuck) return { type: 'merge.failed', reason: `dependency #${stuck.number} will not merge: ${stuck.stuck}`, now: now() };
      const waiting = dependencies.filter((dependency) => !dependency.merged);
      if (waiting.length > 0) {
        return { type: 'merge.waiting', reason: `waiting for ${waiting.map((dependency) => `#${dependency.number}`).join(', ')} to merge first`, now: now() };
      }
      const restacked = await this.#ontoBase(record, context, pull);
      if (restacked) return restacked;
    }

    const branch = pull.headRef;
    try {
      await workspace?.publish(branch);
    } catch (error) {
      if (!(error instanceof PushRefused)) throw error;
      // Someone pushed to the branch since the orchestra did (or a hook, a protection said no):
      // theirs stays; a person settles it, and a change of the pull request brings us back.
      record.mergeRefusedAt = { updatedAt: pull.updatedAt, headSha: pull.headSha, at: now() };
      const reason = `${branch} on origin is not what the orchestra pushed there (someone else's commits?): not forced over it; git push refused: ${error.reason}`;
      return { type: 'merge.blocked', reason, now: now() };
    }
    const headSha = (await workspace?.head(branch)) ?? pull.headSha;
    const verdict = await this.#ci.judge(record, context, branch, headSha);
    if (verdict.kind === 'pending') return { type: 'merge.waiting', reason: verdict.reason, now: now() };
    if (verdict.kind === 'failed') return { type: 'merge.ci_failed', check: verdict.check, excerpt: verdict.excerpt, now: now() };
    if (verdict.kind === 'error') return { type: 'merge.failed', reason: verdict.reason, now: now() };

    if (!this.auto) {
      return { type: 'merge.waiting', reason: `waiting for someone to merge pull request #${number} (workflow.merge.auto is off)`, now: now() };
    }
    if (pull.mergeable === null) return { type: 'merge.waiting', reason: `the tracker is still working out whether #${number} can be merged`, now: now() };
    logger.info({ issue: record.number, pullRequest: number, headSha, method }, 'merge requested');
    const outcome = await source.mergePullRequest({
      number,
      headSha,
      method,
      title: `#${record.number}: ${record.issue.title} (pull request #${number})`.slice(0, 250),
      message: `Closes #${record.number}`,
    });
    return this.#outcome(record, outcome, pull);
  }

  async #outcome(record: IssueRecord, outcome: MergeOutcome, pull: PullRequestState): Promise<LifecycleEvent> {
    const now = this.#options.now();
    switch (outcome.kind) {
      case 'merged':
        return { type: 'merge.done', sha: outcome.sha, method: this.#options.config.workflow.merge.method, now };
      case 'refused':
      case 'head_changed':
        record.mergeRefusedAt = { updatedAt: pull.updatedAt, headSha: pull.headSha, at: this.#options.now() };
        return { type: 'merge.blocked', reason: outcome.reason, now };
      case 'conflict':
        return { type: 'merge.conflict', conflict: await this.#conflict(outcome), now };
    }
  }

  /**
   * The conflict for the first stage's agent, with both sides' commits. GitHub names neither the
   * files nor commits this repository holds (its sides are its own shas): the base branch as
   * fetched here and the branch's head stand in, and a trial merge of the two names the files.
   */
  async #conflict(outcome: Extract<MergeOutcome, { kind: 'conflict' }>): Promise<ConflictReport> {
    const { workspace } = this.#options;
    if (!workspace) return { during: 'merge', theirs: outcome.theirs, ours: outcome.ours, files: outcome.files, commits: { theirs: [], ours: [] } };
    const planner = new BranchPlanner(workspace);
    if (outcome.files.length > 0) return planner.report('merge', outcome.theirs, outcome.ours, outcome.files);
    const base = await workspace.baseTip();
    const head = (await workspace.head(outcome.ours.ref)) ?? outcome.ours.sha;
    const trial = await workspace.mergeCommit([{ ref: outcome.ours.ref, sha: head }, base], `trial merge of ${base.ref} into ${outcome.ours.ref}`);
    const files = 'conflict' in trial ? trial.conflict.files : [];
    return planner.report('merge', { ref: outcome.theirs.ref, sha: base.sha }, { ref: outcome.ours.ref, sha: head }, files);
  }

  /**
   * Stacked, every dependency merged: the pull request goes to the base branch, and the branch is
   * rebased onto it unless it already contains the base (a merge commit kept the dependencies'
   * commits as they were). A conflict is the first stage's to resolve.
   */
  async #ontoBase(record: IssueRecord, context: LifecycleContext, pull: PullRequestState): Promise<LifecycleEvent | undefined> {
    const { source, workspace, logger } = this.#options;
    if (!workspace) return undefined;
    if (pull.baseRef !== workspace.baseBranch) {
      await source.retargetPullRequest(pull.number, workspace.baseBranch);
      logger.info({ issue: record.number, pullRequest: pull.number, base: workspace.baseBranch }, 'pull request retargeted to the base branch');
    }
    const base = await workspace.baseTip();
    const head = await workspace.head(pull.headRef);
    const startedFrom = context.git?.startedFrom.sha;
    if (head === undefined || startedFrom === undefined || (await workspace.isAncestor(startedFrom, base.sha))) return undefined;
    // Restacked already (at an earlier look, while CI runs): a rebase now would only redo it.
    if (await workspace.isAncestor(base.sha, head)) return undefined;
    const rebased = await workspace.rebase(pull.headRef, startedFrom, base.sha);
    if ('sha' in rebased) {
      logger.info({ issue: record.number, branch: pull.headRef, onto: base.sha }, 'branch restacked onto the base branch');
      return undefined;
    }
    if ('refused' in rebased) return { type: 'merge.waiting', reason: `cannot restack ${pull.headRef} yet: ${rebased.refused}`, now: this.#options.now() };
    const conflict = await new BranchPlanner(workspace).report('restack', base, { ref: pull.headRef, sha: head }, rebased.conflict.files);
    return { type: 'merge.conflict', conflict, now: this.#options.now() };
  }
}
