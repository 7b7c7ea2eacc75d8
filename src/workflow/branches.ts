/**
 * What an issue's branch starts from, decided by the orchestra before each dispatch
 * (docs/WORKFLOW.md, "Dependencies carry their work"):
 *
 *   merged mode   the branch is made from the base branch's tip — the issue was queued only
 *                 after its dependencies merged, so their work is in it;
 *   stacked mode  from its dependency's branch head, or a merge commit of several dependencies'
 *                 heads (made without a worktree); a dependency already merged counts as the
 *                 base branch. When a dependency's branch moved on after the dependent started
 *                 (a review round, a CI fix), the dependent is rebased onto it before its next
 *                 stage runs (restack; a merge commit its agent made is kept: see
 *                 src/infra/git/rebase.ts).
 *
 * A conflict making the merge commit or restacking is not an error: the branch is left as it
 * was (or made from the first dependency) and the conflict goes to the agent of the first stage,
 * with the conflicting files and both sides' commits, to resolve.
 */
import type { ConflictReport, GitPlan } from '../agents/task.ts';
import type { GitRef, WorkspacePort } from './ports.ts';

export interface DependencyBranch {
  number: number;
  branch: string;
  /** Its change is in the base branch. */
  merged: boolean;
  /** The commit that merged it, when known. */
  mergeCommit?: string;
}

export interface BranchRequest {
  branch: string;
  mode: GitPlan['mode'];
  /** The plan of the last dispatch (undefined for the first, or after an upgrade). */
  previous: GitPlan | undefined;
  dependencies: readonly DependencyBranch[];
}

export interface PreparedBranch {
  git: GitPlan;
  conflict?: ConflictReport;
}

export class BranchPlanner {
  constructor(private readonly workspace: WorkspacePort) {}

  async prepare(request: BranchRequest): Promise<PreparedBranch> {
    const { workspace } = this;
    const base = await workspace.baseTip();
    const dependencies = await Promise.all(
      request.dependencies.map(async (dependency) => ({ ...dependency, head: (await workspace.head(dependency.branch)) ?? null })),
    );
    const stackedOn = request.mode === 'stacked' ? dependencies.filter((dependency) => !dependency.merged && dependency.head !== null) : [];
    const plan = (startedFrom: GitRef): GitPlan => ({
      mode: request.mode,
      baseBranch: workspace.baseBranch,
      startedFrom,
      dependencies: dependencies.map(({ number, branch, head, merged, mergeCommit }) => ({
        number,
        branch,
        head,
        merged,
        ...(mergeCommit ? { mergeCommit } : {}),
      })),
      pullRequestBase: stackedOn.length === 1 ? stackedOn[0]!.branch : workspace.baseBranch,
    });

    // What the branch should start from now, and a conflict in making it.
    const head = await workspace.head(request.branch);
    let start: GitRef = base;
    let conflict: ConflictReport | undefined;
    if (stackedOn.length === 1) start = { ref: stackedOn[0]!.branch, sha: stackedOn[0]!.head! };
    if (stackedOn.length > 1) {
      const heads = stackedOn.map((dependency) => ({ ref: dependency.branch, sha: dependency.head! }));
      const merged = await workspace.mergeCommit(heads, `Merge ${heads.map((head) => head.ref).join(', ')} for ${request.branch}`);
      if ('sha' in merged) {
        start = { ref: `merge of ${stackedOn.map((dependency) => `#${dependency.number}`).join(' and ')}`, sha: merged.sha };
      } else {
        // Start from the first; the agent merges in the others and resolves what conflicts. Once
        // it did, the heads still conflict with each other but the branch holds them all: no
        // conflict any more, or every later stage would be sent back to resolve it again.
        start = heads[0]!;
        const lacking = await this.lacking(heads.slice(1), head);
        if (lacking) conflict = await this.report('branch', lacking, head === undefined ? heads[0]! : { ref: request.branch, sha: head }, merged.conflict.files);
      }
    }

    if (head === undefined) {
      await workspace.createBranch(request.branch, start.sha);
      return { git: plan(start), ...(conflict ? { conflict } : {}) };
    }
    const previous = request.previous?.startedFrom;
    const withConflict = conflict ? { conflict } : {};
    // merged mode: the branch goes on as it is (what moved on in the base branch is merged at the end).
    if (request.mode !== 'stacked' || previous === undefined || previous.sha === start.sha) return { git: plan(previous ?? start), ...withConflict };
    if (await workspace.isAncestor(start.sha, head)) return { git: plan(start), ...withConflict };
    // Restack: what the branch was built on moved on.
    const rebased = await workspace.rebase(request.branch, previous.sha, start.sha);
    if ('sha' in rebased) return { git: plan(start), ...withConflict };
    if ('refused' in rebased) throw new Error(`could not restack ${request.branch} onto ${start.ref}: ${rebased.refused}`);
    return { git: plan(previous), conflict: await this.report('restack', start, { ref: request.branch, sha: head }, rebased.conflict.files) };
  }

  /** The first of `heads` the branch does not hold yet (all of them when it does not exist). */
  async lacking(heads: readonly GitRef[], branchHead: string | undefined): Promise<GitRef | undefined> {
    for (const head of heads) if (branchHead === undefined || !(await this.workspace.isAncestor(head.sha, branchHead))) return head;
    return undefined;
  }

  /** A conflict with both sides' commits, for the agent that resolves it. */
  async report(during: ConflictReport['during'], theirs: GitRef, ours: GitRef, files: string[]): Promise<ConflictReport> {
    const [theirCommits, ourCommits] = await Promise.all([
      this.workspace.commitsBetween(ours.sha, theirs.sha),
      this.workspace.commitsBetween(theirs.sha, ours.sha),
    ]);
    return { during, theirs, ours, files, commits: { theirs: theirCommits, ours: ourCommits } };
  }
}
