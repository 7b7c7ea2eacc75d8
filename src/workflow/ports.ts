/**
 * What the workflow engine needs of its two sibling actors, `dag` and `scheduler`
 * (src/actors/dag.ts, src/actors/scheduler.ts): changes are sent to the actor, reads are of its
 * snapshot, in the same synchronous step. A change the actor cannot take (it crashed, or is down)
 * throws, so the engine's step fails before it writes anything and the `workflow` supervisor
 * restarts the three together, rebuilt from KV.
 */
import type { DagSnapshot, DependencyGraph, NodeState } from '../machines/dag.ts';
import type { QueuedTask, TaskQueue } from '../machines/scheduler.ts';
import type { Admission } from '../machines/budget.ts';

export interface GraphPort {
  /** For reading only: changes go through the methods. */
  readonly graph: Omit<DependencyGraph, 'setNode' | 'setState' | 'removeNode'>;
  /** Changes applied so far: the graph is persisted when this moved since the last time. */
  readonly changes: number;
  load(snapshot: DagSnapshot | undefined): void;
  setNode(id: number, dependsOn: readonly number[]): void;
  setState(id: number, state: NodeState): void;
}

export interface QueuePort {
  readonly queue: Pick<TaskQueue, 'queued' | 'running'>;
  enqueue(task: QueuedTask): void;
  remove(id: string): void;
  finished(id: string): void;
  markRunning(task: QueuedTask): void;
  /** Every task that may start at `now` (and that `admitted` lets go: the budget); they count as running from here. */
  take(now: number, admitted?: Omit<Admission, 'share'>): QueuedTask[];
}

export interface GitRef {
  ref: string;
  sha: string;
}

export interface Commit {
  sha: string;
  subject: string;
}

/**
 * The target repository as the workflow needs it: branches made, merged and restacked by the
 * orchestra itself, never by an agent (src/workflow/workspace-git.ts over src/infra/git).
 */
export interface WorkspacePort {
  /** The base branch: issue branches start from it, pull requests end in it. */
  readonly baseBranch: string;
  /** The base branch's tip (fetched from `origin` first when the repository has one). */
  baseTip(): Promise<GitRef>;
  /** A local branch's head; undefined when there is no such branch. */
  head(branch: string): Promise<string | undefined>;
  /** Makes `branch` at `sha` (no checkout). An existing branch is left as it is. */
  createBranch(branch: string, sha: string): Promise<void>;
  /** A merge commit of several heads, made without a worktree; or the files that conflict. */
  mergeCommit(parents: readonly GitRef[], message: string): Promise<{ sha: string } | { conflict: { files: string[] } }>;
  /** `git rebase --onto <onto> <upstream> <branch>` where the branch is checked out; on conflict the branch is left as it was. */
  rebase(branch: string, upstream: string, onto: string): Promise<{ sha: string } | { conflict: { files: string[] } } | { refused: string }>;
  isAncestor(ancestor: string, descendant: string): Promise<boolean>;
  /** Commits in `to` that are not in `from`, newest first, a few at most. */
  commitsBetween(from: string, to: string): Promise<Commit[]>;
  /**
   * Pushes the branch to `origin` when the repository has one, with a lease on what the orchestra
   * pushed there last: never over someone else's commits (`PushRefused`).
   */
  publish(branch: string): Promise<void>;
  /** The issue's worktree on its branch, made when missing. */
  worktree(issue: number, branch: string): Promise<string>;
}

/** `origin` refused a push of the orchestra's branch: someone else's commits there, a hook, a protection. */
export class PushRefused extends Error {
  constructor(
    readonly branch: string,
    readonly reason: string,
  ) {
    super(`git push of ${branch} to origin refused: ${reason}`);
    this.name = 'PushRefused';
  }
}
