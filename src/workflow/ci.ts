/**
 * CI as a judge before the merge (`workflow.ci`): the verdict on the head commit of an issue's
 * branch.
 *
 * - GitHub: the check runs and commit statuses on the head (`workflow.ci.checks` names the
 *   required ones; empty: every one reported). One still running → pending, looked at again
 *   after `pollIntervalMs` (a state, not a busy loop); none reported yet → pending for
 *   `settleMs` after the merge stage began, then green (a repository without CI); running past
 *   `timeoutMs` → red.
 * - Local source: `workflow.ci.command` run in the issue's worktree (src/agents/ci-command.ts),
 *   its exit code the verdict. A verdict is kept in the KV ledger by head commit, so a restart
 *   does not run the same commit's CI twice. A command that does not exist is not a red build
 *   but a config problem: the issue fails with `command_not_found`.
 */
import { CI_LOG_TAIL_LINES, runCiCommand } from '../agents/ci-command.ts';
import type { OrchestraConfig } from '../config/schema.ts';
import type { CheckState, IssueSource } from '../issues/source.ts';
import type { LifecycleContext } from '../machines/issue-lifecycle.ts';
import type { WorkspacePort } from './ports.ts';
import type { IssueRecord } from './record.ts';
import type { WorkflowStore } from './store.ts';

export type CiVerdict =
  | { kind: 'passed' }
  | { kind: 'pending'; reason: string }
  | { kind: 'failed'; check: string; excerpt: string[] }
  | { kind: 'error'; reason: string };

export class CiJudge {
  /** Aborted when the orchestra stops: a running `ci.command` is stopped with it, not left behind. */
  readonly #stopping = new AbortController();
  constructor(
    private readonly options: {
      config: OrchestraConfig;
      source: IssueSource;
      store: WorkflowStore;
      workspace: WorkspacePort | undefined;
      now(): number;
    },
  ) {}

  /** Stops a `ci.command` that runs (its process group); what it would have said is not recorded. */
  stop(): void {
    this.#stopping.abort();
  }

  async judge(record: IssueRecord, context: LifecycleContext, branch: string, headSha: string): Promise<CiVerdict> {
    const { source, config } = this.options;
    if (source.checks) return this.#checks(await source.checks(headSha), context, headSha);
    const command = config.workflow.ci.command;
    return command.length > 0 ? this.#command(command, record, branch, headSha) : { kind: 'passed' };
  }

  #checks(all: readonly CheckState[], context: LifecycleContext, headSha: string): CiVerdict {
    const { ci } = this.options.config.workflow;
    const since = this.options.now() - (context.mergingSince ?? this.options.now());
    const required = ci.checks;
    const relevant = required.length > 0 ? all.filter((check) => required.includes(check.name)) : all;
    const failed = relevant.find((check) => check.state === 'failure');
    if (failed) return { kind: 'failed', check: failed.name, excerpt: excerptOf(failed) };
    const missing = required.filter((name) => !all.some((check) => check.name === name));
    const running = [...relevant.filter((check) => check.state === 'pending').map((check) => check.name), ...missing];
    if (running.length > 0) {
      if (since > ci.timeoutMs) return { kind: 'failed', check: running[0]!, excerpt: [`still not passed after ${ci.timeoutMs} ms (workflow.ci.timeoutMs)`] };
      return { kind: 'pending', reason: `CI running on ${headSha.slice(0, 12)}: ${running.join(', ')}` };
    }
    if (relevant.length === 0 && since < ci.settleMs) return { kind: 'pending', reason: `no CI check reported on ${headSha.slice(0, 12)} yet` };
    return { kind: 'passed' };
  }

  async #command(command: readonly string[], record: IssueRecord, branch: string, headSha: string): Promise<CiVerdict> {
    const { store, workspace, config } = this.options;
    const ledger = `ci.${record.number}.${headSha}`;
    const known = await store.effect<{ status: 'success' | 'failure'; excerpt: string[] }>(ledger);
    if (known) return known.status === 'success' ? { kind: 'passed' } : { kind: 'failed', check: 'ci.command', excerpt: known.excerpt };
    if (!workspace) return { kind: 'error', reason: 'workflow.ci.command needs the workspace repository' };
    const worktree = await workspace.worktree(record.number, branch);
    const run = await runCiCommand({
      command,
      values: { worktree, issue: record.number, branch, baseBranch: workspace.baseBranch, headSha },
      timeoutMs: config.workflow.ci.timeoutMs,
      signal: this.#stopping.signal,
    });
    // Stopped with the orchestra: no verdict, nothing recorded; the next start runs it again.
    if (this.#stopping.signal.aborted) return { kind: 'pending', reason: 'the orchestra is stopping: the CI command runs again at the next start' };
    if (run.code) return { kind: 'error', reason: `${run.code}: ${run.reason}` };
    const excerpt = run.status === 'success' ? [] : [...run.logTail.slice(-CI_LOG_TAIL_LINES), `(${run.reason})`];
    await store.markEffect(ledger, { status: run.status, excerpt });
    return run.status === 'success' ? { kind: 'passed' } : { kind: 'failed', check: 'ci.command', excerpt };
  }
}

/** What a failed check says of itself, as lines, the end of it when long. */
function excerptOf(check: CheckState): string[] {
  const lines = (check.summary ?? '').split('\n').filter((line) => line.trim() !== '');
  const excerpt = lines.slice(-CI_LOG_TAIL_LINES);
  if (check.detailsUrl) excerpt.push(`details: ${check.detailsUrl}`);
  return excerpt.length > 0 ? excerpt : [`${check.name} failed`];
}
