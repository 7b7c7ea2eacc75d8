/**
 * What a chaos run must show at its end, read from what the orchestra left on disk:
 *   lost        an issue neither done nor finished with a reason it gives (failed, blocked);
 *   duplicated  a side effect twice: a comment key, a pull request, a merge into main, an agent
 *               run of the same task attempt, or a task run again after it had answered;
 *   leaked      after the stop: a process of the run, a tmux pane, a worktree, a task directory.
 */
import { execa } from 'execa';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TaskMarker } from '../../src/infra/panes/log.ts';
import { belongsTo, listProcesses } from '../support/processes.ts';

export interface IssueOutcome {
  issue: number;
  state: string;
  reason: string | undefined;
}

export function lostIssues(expected: readonly number[], rows: readonly IssueOutcome[]): string[] {
  const byIssue = new Map(rows.map((row) => [row.issue, row]));
  return expected.flatMap((issue) => {
    const row = byIssue.get(issue);
    if (row === undefined) return [`#${issue}: never seen by the orchestra`];
    if (row.state === 'done') return [];
    if ((row.state === 'failed' || row.state === 'blocked') && row.reason) return [];
    return [`#${issue}: ${row.state}${row.reason ? ` (${row.reason})` : ' with no reason'}`];
  });
}

export function duplicateRuns(markers: readonly TaskMarker[]): string[] {
  const started = new Map<string, number>();
  const answered = new Set<string>();
  const found: string[] = [];
  for (const marker of [...markers].sort((a, b) => a.at.localeCompare(b.at))) {
    if (marker.kind === 'start') {
      const attempt = `${marker.taskId} attempt ${marker.attempt}`;
      started.set(attempt, (started.get(attempt) ?? 0) + 1);
      if (started.get(attempt) === 2) found.push(`${attempt} started twice`);
      if (answered.has(marker.taskId)) found.push(`${attempt} started after the task had answered`);
    } else if (marker.status !== 'retry') answered.add(marker.taskId);
  }
  return found;
}

export async function duplicateEffects(dataDir: string, repo: string, issues: readonly number[]): Promise<string[]> {
  const found: string[] = [];
  const tracker = join(dataDir, 'tracker');
  const pulls = JSON.parse(await readFile(join(tracker, 'pulls.json'), 'utf8').catch(() => '[]')) as Array<{ issue: number; number: number }>;
  for (const issue of issues) {
    const record = JSON.parse(await readFile(join(tracker, `issue-${issue}.json`), 'utf8').catch(() => '{}')) as { comments?: Array<{ key?: string }> };
    const keys = (record.comments ?? []).flatMap((comment) => (comment.key ? [comment.key] : []));
    for (const key of new Set(keys)) if (keys.filter((other) => other === key).length > 1) found.push(`#${issue}: comment ${key} posted twice`);
    const opened = pulls.filter((pull) => pull.issue === issue);
    if (opened.length > 1) found.push(`#${issue}: ${opened.length} pull requests (${opened.map((pull) => `#${pull.number}`).join(', ')})`);
  }
  const merges = await execa('git', ['log', 'main', '--merges', '--format=%s'], { cwd: repo, reject: false });
  const subjects = merges.stdout.split('\n').filter(Boolean);
  for (const issue of issues) {
    const mine = subjects.filter((subject) => new RegExp(`miyabi/issue-${issue}(?!\\d)`).test(subject));
    if (mine.length > 1) found.push(`#${issue}: merged ${mine.length} times`);
  }
  return found;
}

export async function leaks(options: { runDir: string; dataDir: string; repo: string; socket: string | undefined }): Promise<string[]> {
  const found: string[] = [];
  for (const info of await listProcesses()) if (belongsTo(info, options.runDir)) found.push(`process ${info.pid}: ${info.argv.join(' ').slice(0, 160)}`);
  if (options.socket !== undefined) {
    const panes = await execa('tmux', ['-L', options.socket, 'list-panes', '-a', '-F', '#{pane_id} #{pane_title}'], { reject: false });
    if (panes.exitCode === 0) for (const pane of panes.stdout.split('\n').filter(Boolean)) found.push(`tmux pane ${pane}`);
  }
  const worktrees = await execa('git', ['worktree', 'list', '--porcelain'], { cwd: options.repo, reject: false });
  const paths = worktrees.stdout.split('\n').filter((line) => line.startsWith('worktree ')).map((line) => line.slice('worktree '.length));
  for (const path of paths.slice(1)) found.push(`worktree ${path}`);
  for (const entry of await readdir(join(options.dataDir, 'tasks')).catch(() => [] as string[])) found.push(`task directory ${entry}`);
  return found;
}
