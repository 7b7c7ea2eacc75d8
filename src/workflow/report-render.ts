/**
 * A report (./report.ts) as Markdown: what `report` prints by default and what is posted on the
 * tracker and to the chat webhooks. Issue titles and reasons come from issues and agents:
 * untrusted, so they are flattened to one line, made inert (no escape sequence, control
 * character or bidi override reaches a terminal or a page) and kept out of Markdown's way (no
 * table breaks, no mentions, no links that ping anyone). Secrets are not this module's business:
 * whoever posts or prints the report redacts it (src/actors/reporter.ts, the `report` command).
 */
import { inert } from '../inert-text.ts';
import type { IssueLine, Report } from './report.ts';

/** One line of untrusted text: no newlines, controls, pipes or backticks; `@` defused so nobody is pinged. */
function plain(value: string, max = 120): string {
  const flat = value.replace(/[\r\n\t]+/g, ' ').trim();
  // Cut before the escapes are written, so none is cut in half.
  const cut = flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
  return inert(cut).replace(/[|`]/g, "'").replace(/@/g, '@\u200b');
}

function duration(ms: number | null): string {
  if (ms === null) return 'n/a';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const seconds = Math.round(ms / 1000);
  const [d, h, m, s] = [Math.floor(seconds / 86_400), Math.floor((seconds % 86_400) / 3600), Math.floor((seconds % 3600) / 60), seconds % 60];
  return [d && `${d}d`, h && `${h}h`, m && `${m}m`, s && `${s}s`].filter(Boolean).slice(0, 2).join('') || '0s';
}

const percent = (ratio: number | null): string => (ratio === null ? 'n/a' : `${(ratio * 100).toFixed(1)}%`);
const decimal = (value: number): string => (Number.isInteger(value) ? String(value) : value.toFixed(2));

function issueList(title: string, lines: readonly IssueLine[]): string[] {
  if (lines.length === 0) return [`- ${title}: none`];
  return [`- ${title}: ${lines.length}`, ...lines.map((issue) => `  - #${issue.number} ${plain(issue.title, 80)}${issue.reason ? ` — ${plain(issue.reason)}` : ''}`)];
}

export function reportTitle(report: Report): string {
  const { kind, start, timeZone } = report.period;
  return `Miyabi Orchestra ${kind} report: ${kind === 'weekly' ? 'week of ' : ''}${start} (${timeZone})`;
}

export function renderReport(report: Report): string {
  const { kpis, period } = report;
  const out: string[] = [`## ${reportTitle(report)}`, ''];
  out.push(`Period ${period.since} … ${period.until}${period.complete ? '' : ` (not over: up to ${report.generatedAt})`}. Made at ${report.generatedAt} from the orchestra's events stream and state bucket.`, '');
  if (report.empty) out.push('**No activity in this period**: no task ran, no issue finished, no restart, no fault, no SLA deadline passed.', '');

  out.push('### Issues', ...issueList('done', report.issues.done), ...issueList('failed', report.issues.failed));
  if (report.issues.released.length > 0) out.push(...issueList('released (closed or no longer trusted)', report.issues.released));
  out.push(...issueList('blocked now', report.issues.blocked), ...issueList('waiting for a person now', report.issues.waitingForHumans), '');

  const { autonomy, throughput, mttr, utilization, successRate } = kpis;
  out.push(
    '### KPIs',
    '| KPI | value | detail |',
    '| --- | --- | --- |',
    `| autonomy | ${percent(autonomy.ratio)} | down ${duration(autonomy.downMs)}, waiting for a person ${duration(autonomy.waitingForPersonMs)}, observed ${duration(kpis.window.observedMs)} |`,
    `| throughput | ${decimal(throughput.finishedPerDay)} issues/day | ${throughput.done} done, ${throughput.failed} failed, ${throughput.released} released |`,
    `| MTTR | ${duration(mttr.meanMs)} | ${mttr.recoveries} recoveries, ${mttr.unrecovered} not recovered |`,
    `| utilization | ${percent(utilization.ratio)} | ${Object.entries(utilization.byRole).map(([role, entry]) => `${plain(role)} ${percent(entry.ratio)}`).join(', ') || 'no agent observed'} |`,
    `| success rate | ${percent(successRate.issues)} | tasks ${percent(successRate.tasks)} (${successRate.tasksNormal}/${successRate.tasksTotal}) |`,
    '',
  );

  out.push('### Slowest stages');
  if (report.slowestStages.length === 0) out.push('No task ran.');
  for (const stage of report.slowestStages) out.push(`- ${plain(stage.stage)} (${plain(stage.role)}) on #${stage.issue}: ${duration(stage.durationMs)}, ${plain(stage.status)}, at ${stage.at}`);
  if (report.stages.length > 0) out.push('', 'Per stage: ' + report.stages.map((stage) => `${plain(stage.stage)} ${stage.count}× mean ${duration(stage.meanMs)}, max ${duration(stage.maxMs)}`).join('; '));
  out.push('');

  const { starts, recoveries, unrecovered } = report.restarts;
  out.push('### Restarts and recoveries');
  if (starts.length + recoveries.length + unrecovered.length === 0) out.push('None.');
  for (const start of starts) out.push(`- orchestra started at ${start.at}${start.planned ? ' (after a stop that was asked for)' : ''}`);
  for (const recovery of recoveries) out.push(`- ${plain(recovery.actor)}: ${plain(recovery.fault)} noticed ${recovery.noticedAt}, recovered ${recovery.recoveredAt} (${duration(recovery.ms)})`);
  for (const fault of unrecovered) out.push(`- ${plain(fault.actor)}: ${plain(fault.fault)} at ${fault.at}, not recovered`);
  out.push('');

  out.push('### Cost and tokens');
  if (report.cost === null) out.push('Not reported: no agent result of this period carried a cost.');
  else {
    out.push('| role | results (with cost) | USD | input tokens | output tokens |', '| --- | --- | --- | --- | --- |');
    for (const [role, entry] of Object.entries(report.cost.byRole).sort(([a], [b]) => a.localeCompare(b))) {
      out.push(`| ${plain(role)} | ${entry.results} (${entry.reported}) | ${entry.usd.toFixed(2)} | ${entry.inputTokens} | ${entry.outputTokens} |`);
    }
    const { total } = report.cost;
    out.push(`| total | | ${total.usd.toFixed(2)} | ${total.inputTokens} | ${total.outputTokens} |`);
  }
  out.push('');

  if (report.budget !== null) {
    const { from, to, timeZone, byRole, total } = report.budget;
    out.push(`### Budget spend (the budget ledger, budget day${from === to ? ` ${from}` : `s ${from} to ${to}`}, ${plain(timeZone)})`);
    if (total.tasks === 0) out.push('Nothing spent.');
    else {
      out.push('| role | tasks | USD | wall-clock | input tokens | output tokens |', '| --- | --- | --- | --- | --- | --- |');
      const row = (name: string, spend: typeof total) => `| ${name} | ${spend.tasks} | ${spend.usd.toFixed(2)} | ${duration(spend.wallClockMs)} | ${spend.inputTokens} | ${spend.outputTokens} |`;
      for (const [role, spend] of Object.entries(byRole).sort(([a], [b]) => a.localeCompare(b))) out.push(row(plain(role), spend));
      out.push(row('total', total));
    }
    out.push('');
  }

  out.push('### SLA breaches');
  if (report.slaBreaches.length === 0) out.push('None.');
  for (const breach of report.slaBreaches) out.push(`- #${breach.issue} ${plain(breach.title, 80)} (P${breach.priority}): deadline ${breach.deadline}, ${plain(breach.state)} now`);
  out.push('');

  out.push('### Top failure reasons');
  if (report.failureReasons.length === 0) out.push('None.');
  for (const reason of report.failureReasons) out.push(`- ${reason.count}× ${plain(reason.reason)} (${reason.issues.map((number) => `#${number}`).join(', ')})`);
  return `${out.join('\n')}\n`;
}
