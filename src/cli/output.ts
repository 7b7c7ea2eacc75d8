/** Exit codes and printing for the CLI. */
import type { BudgetStatus } from '../workflow/budget-ledger.ts';
import type { ConfigProblem } from '../config/problems.ts';
import { formatProblem } from '../config/problems.ts';
import { flattenTree, type TreeNode } from '../supervisor/tree.ts';
import { inert } from '../inert-text.ts';
import type { SummaryRow } from '../workflow/summary.ts';

export const ExitCode = {
  ok: 0,
  failure: 1,
  /** Invalid usage or config: nothing was started. */
  invalid: 2,
} as const;

export class CliExit extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

export function printProblems(source: string, problems: readonly ConfigProblem[]): void {
  process.stderr.write(`invalid config ${source}:\n`);
  for (const problem of problems) process.stderr.write(`${formatProblem(problem)}\n`);
}

export function formatDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const parts = [
    [Math.floor(seconds / 86_400), 'd'],
    [Math.floor((seconds % 86_400) / 3_600), 'h'],
    [Math.floor((seconds % 3_600) / 60), 'm'],
    [seconds % 60, 's'],
  ] as const;
  const shown = parts.filter(([value], index) => value > 0 || index === parts.length - 1);
  return shown
    .slice(0, 2)
    .map(([value, unit]) => `${value}${unit}`)
    .join('');
}

/** The tree as an indented table: actor, status, state, restarts, uptime. */
export function renderTree(root: TreeNode): string {
  const rows: string[][] = [['ACTOR', 'STATUS', 'STATE', 'RESTARTS', 'UPTIME']];
  const walk = (node: TreeNode, prefix: string, childPrefix: string) => {
    const name = node.type === 'supervisor' && node.strategy ? `${node.id} (${node.strategy})` : node.id;
    rows.push([`${prefix}${name}`, node.status, node.state, String(node.restarts), formatDuration(node.uptimeMs)]);
    const children = node.children ?? [];
    children.forEach((child, index) => {
      const last = index === children.length - 1;
      walk(child, `${childPrefix}${last ? '└─ ' : '├─ '}`, `${childPrefix}${last ? '   ' : '│  '}`);
    });
  };
  walk(root, '', '');
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => [...row[column]!].length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

export function countActors(root: TreeNode): number {
  return flattenTree(root).length;
}

function shorten(text: string, max: number): string {
  return [...text].length > max ? `${[...text].slice(0, max - 1).join('')}…` : text;
}

/** The batch-mode summary: one row per issue, then the reasons of those not done; issue text shown inert (no newline, no escape sequence). */
export function renderSummary(rows: readonly SummaryRow[]): string {
  const table: string[][] = [['ISSUE', 'ROUTE', 'STATE', 'ATTEMPTS', 'DURATION', 'MERGED', 'TITLE']];
  for (const row of rows) {
    table.push([
      `#${row.issue}`,
      row.route,
      row.state,
      String(row.attempts),
      row.durationMs === undefined ? '-' : `${(row.durationMs / 1000).toFixed(1)}s`,
      row.merged ? row.merged.slice(0, 10) : '-',
      shorten(inert(row.title), 50),
    ]);
  }
  const widths = table[0]!.map((_, column) => Math.max(...table.map((cells) => [...cells[column]!].length)));
  const lines = table.map((cells) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd());
  const notes = rows.filter((row) => row.state !== 'done' && row.reason).map((row) => `#${row.issue} ${row.state}: ${inert(row.reason!)}`);
  const done = rows.filter((row) => row.state === 'done').length;
  const footer = `${done} of ${rows.length} issue(s) done${notes.length > 0 ? `\n\n${notes.join('\n')}` : ''}`;
  return `${lines.join('\n')}\n\n${footer}\n`;
}

/** The budget day in a few lines: what is spent, by role, and what dispatch admits. */
export function formatBudget(status: BudgetStatus): string {
  const { admission, total } = status;
  const admits =
    admission.paused !== undefined
      ? `dispatch paused: ${admission.paused}`
      : status.resumed
        ? 'dispatch resumed by the operator until the next budget day'
        : admission.maxPriority !== undefined
          ? `only P0..P${admission.maxPriority} dispatched${admission.closedRoles ? `; roles at their cap: ${admission.closedRoles.join(', ')}` : ''}`
          : `every priority dispatched${admission.closedRoles ? `; roles at their cap: ${admission.closedRoles.join(', ')}` : ''}`;
  const line = (name: string, spend: BudgetStatus['total']) =>
    `  ${name.padEnd(12)} $${spend.usd.toFixed(2)}  ${(spend.wallClockMs / 1000).toFixed(0)} s  ${spend.tasks} task(s)  ${spend.inputTokens + spend.outputTokens} token(s)`;
  return [
    `budget day ${status.day}: ${(admission.share * 100).toFixed(0)} % of the daily budget used; ${admits}`,
    line('total', total),
    ...Object.entries(status.roles).map(([role, spend]) => line(role, spend)),
  ].join('\n');
}
