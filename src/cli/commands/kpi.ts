/**
 * `kpi [--since T] [--json]`: the plan's five KPIs over a window, computed from what the running
 * orchestra's bus kept (MIYABI_EVENTS, 7 days) by the same code as the reports (docs/KPI.md).
 */
import { readKpis } from '../../workflow/kpi-facts.ts';
import type { KpiReport } from '../../workflow/kpi-report.ts';
import { connectCli, loadConfigOrExit, serversFor } from '../connect.ts';
import { CliExit, ExitCode, formatDuration } from '../output.ts';

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
export const DEFAULT_SINCE = '24h';

/** `--since`: a duration back from `now` (`90s`, `30m`, `1h`, `7d`) or an ISO time; an exit 2 naming the value otherwise. */
export function parseSince(text: string, now: number): number {
  const duration = /^(\d+(?:\.\d+)?)([smhd])$/.exec(text.trim());
  if (duration) return now - Number(duration[1]) * UNITS[duration[2]!]!;
  const time = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isFinite(time) && time <= now) return time;
  const why = Number.isFinite(time) ? 'is in the future' : 'is neither a duration (90s, 30m, 1h, 7d) nor an ISO time';
  throw new CliExit(ExitCode.invalid, `--since ${JSON.stringify(text)} ${why}`);
}

const percent = (ratio: number | null): string => (ratio === null ? 'n/a' : `${(ratio * 100).toFixed(1)}%`);
const per = (value: number): string => (Number.isInteger(value) ? String(value) : value.toFixed(2));
const duration = (ms: number | null): string => (ms === null ? 'n/a' : ms > 0 && ms < 1000 ? `${Math.round(ms)}ms` : formatDuration(ms));

/** The report as a table: one line per KPI, then its parts. */
export function renderKpis(report: KpiReport): string {
  const { autonomy, throughput, mttr, utilization, successRate } = report;
  const interventions = Object.entries(autonomy.interventions).map(([kind, count]) => `${kind} ${count}`).join(', ');
  const lines = [
    `window        ${report.window.since} … ${report.window.until} (orchestra observed ${duration(report.window.observedMs)})`,
    `autonomy      ${percent(autonomy.ratio)}  down ${duration(autonomy.downMs)}, waiting for a person ${duration(autonomy.waitingForPersonMs)}; interventions: ${interventions}`,
    `throughput    ${per(throughput.finishedPerDay)} issues finished/day (${per(throughput.donePerDay)} done/day): ${throughput.done} done, ${throughput.failed} failed, ${throughput.released} released`,
    `MTTR          ${duration(mttr.meanMs)}  over ${mttr.recoveries} recoveries, ${mttr.unrecovered} not recovered`,
    ...Object.entries(mttr.byFault).map(([fault, entry]) => `                ${fault}: ${duration(entry.meanMs)} × ${entry.count}`),
    `utilization   ${percent(utilization.ratio)}  busy / available agent time, the Conductor excluded`,
    ...Object.entries(utilization.byRole).map(([role, entry]) => `                ${role}: ${percent(entry.ratio)} (${duration(entry.busyMs)} of ${duration(entry.availableMs)})`),
    `success rate  ${percent(successRate.issues)} of issues (done / done + failed); ${percent(successRate.tasks)} of tasks (${successRate.tasksNormal}/${successRate.tasksTotal} completed normally)`,
  ];
  return `${lines.join('\n')}\n`;
}

export async function kpi(flags: { config?: string; since?: string; json?: boolean }): Promise<number> {
  const until = Date.now();
  const since = parseSince(flags.since ?? DEFAULT_SINCE, until);
  const loaded = await loadConfigOrExit(flags.config);
  const nc = await connectCli(loaded, await serversFor(loaded));
  try {
    const { report } = await readKpis(nc, { since, until });
    process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : renderKpis(report));
    return ExitCode.ok;
  } finally {
    await nc.close();
  }
}
