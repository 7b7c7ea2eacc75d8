/**
 * Which health findings become notifications, pure: one notice when a problem (kind and subject)
 * appears at or above the minimum severity, nothing while it lasts, one "resolved" notice when a
 * check no longer finds it. More new problems in one check than `maxPerCheck` become one summary
 * notice, so an alert storm is one message.
 */
import type { HealthProblem } from './health-judge.ts';

export interface HealthNotice {
  key: string;
  severity: 'warning' | 'critical';
  resolved: boolean;
  title: string;
  text: string;
}

export function problemKey(problem: HealthProblem): string {
  return `${problem.kind}:${problem.subject}`;
}

export function healthNotices(
  open: ReadonlyMap<string, HealthProblem>,
  findings: readonly HealthProblem[],
  options: { minSeverity: 'warning' | 'critical'; maxPerCheck: number },
): { notices: HealthNotice[]; open: Map<string, HealthProblem> } {
  const wanted = findings.filter((problem) => options.minSeverity === 'warning' || problem.severity === 'critical');
  const next = new Map(wanted.map((problem) => [problemKey(problem), problem]));
  const fresh = [...next.entries()].filter(([key]) => !open.has(key));
  const gone = [...open.entries()].filter(([key]) => !next.has(key));
  const notice = (key: string, problem: HealthProblem, resolved: boolean): HealthNotice => ({
    key,
    severity: problem.severity,
    resolved,
    title: `${problem.kind.replaceAll('_', ' ')}: ${problem.subject}`,
    text: problem.message,
  });
  const notices: HealthNotice[] = [];
  if (fresh.length > options.maxPerCheck) {
    const severity = fresh.some(([, problem]) => problem.severity === 'critical') ? 'critical' : 'warning';
    notices.push({ key: 'summary', severity, resolved: false, title: `${fresh.length} new problems`, text: fresh.map(([, problem]) => `- ${problem.message}`).join('\n') });
  } else {
    for (const [key, problem] of fresh) notices.push(notice(key, problem, false));
  }
  for (const [key, problem] of gone) notices.push(notice(key, problem, true));
  return { notices, open: next };
}
