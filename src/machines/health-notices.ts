/**
 * Which health findings become notifications, pure (the caller's clock in, what to send out).
 *
 * - One notice when a problem (kind and subject) appears at or above the minimum severity,
 *   nothing while it lasts, one "resolved" notice when a check no longer finds it.
 * - Per problem, at most one notice of its appearance per `intervalMs`: a problem that comes back
 *   sooner (it flaps) is not announced again, and its going away again is not told either; if it
 *   is still there once the interval has passed since its last notice, one notice says so, with
 *   how often it came back meanwhile.
 * - More new problems in one check than `maxPerCheck` become one summary notice, and so do more
 *   resolutions than that: an alert storm and its end are one message each.
 * - Overall, at most `maxPerInterval` messages in any `intervalMs`: what goes past the cap is held
 *   and sent as one summary at the first check the cap allows it.
 */
import type { HealthProblem } from './health-judge.ts';

export interface HealthNotice {
  key: string;
  severity: 'warning' | 'critical';
  resolved: boolean;
  title: string;
  text: string;
}

export interface NoticeLimits {
  minSeverity: 'warning' | 'critical';
  maxPerCheck: number;
  /** Per problem, the least time between two notices of its appearance; also the window of `maxPerInterval`. */
  intervalMs: number;
  /** Messages in any `intervalMs`, all problems together. */
  maxPerInterval: number;
}

/** What the notices remember from one check to the next. */
export interface NoticeMemory {
  /** The problems found at the last check (at or above the minimum severity), by key. */
  readonly open: ReadonlyMap<string, HealthProblem>;
  /** Those of them whose appearance was told. */
  readonly announced: ReadonlySet<string>;
  /** Per problem, when its appearance was last told. */
  readonly announcedAt: ReadonlyMap<string, number>;
  /** Per problem, how often it came back untold since it was last told. */
  readonly returns: ReadonlyMap<string, number>;
  /** When each message of the last `intervalMs` went out. */
  readonly sentAt: readonly number[];
  /** Lines of the notices the overall cap held back, for the next summary. */
  readonly held: readonly string[];
}

export const EMPTY_NOTICE_MEMORY: NoticeMemory = { open: new Map(), announced: new Set(), announcedAt: new Map(), returns: new Map(), sentAt: [], held: [] };

export function problemKey(problem: HealthProblem): string {
  return `${problem.kind}:${problem.subject}`;
}

const titleOf = (problem: HealthProblem) => `${problem.kind.replaceAll('_', ' ')}: ${problem.subject}`;
const worst = (problems: readonly HealthProblem[]) => (problems.some((problem) => problem.severity === 'critical') ? 'critical' : 'warning');

export function healthNotices(memory: NoticeMemory, findings: readonly HealthProblem[], limits: NoticeLimits, now: number): { notices: HealthNotice[]; memory: NoticeMemory } {
  const wanted = findings.filter((problem) => limits.minSeverity === 'warning' || problem.severity === 'critical');
  const open = new Map(wanted.map((problem) => [problemKey(problem), problem]));
  const announced = new Set([...memory.announced].filter((key) => open.has(key)));
  const announcedAt = new Map(memory.announcedAt);
  const returns = new Map(memory.returns);
  // A gone problem's last notice older than the interval is forgotten (unless its returns are still to be told).
  for (const [key, at] of announcedAt) if (now - at >= limits.intervalMs && !open.has(key) && !returns.has(key)) announcedAt.delete(key);
  const quiet = (key: string) => announcedAt.has(key) && now - announcedAt.get(key)! < limits.intervalMs;

  const toTell: Array<[string, HealthProblem]> = [];
  for (const [key, problem] of open) {
    if (announced.has(key)) continue;
    const fresh = !memory.open.has(key);
    if (quiet(key)) {
      if (fresh) returns.set(key, (returns.get(key) ?? 0) + 1);
      continue;
    }
    toTell.push([key, problem]);
  }
  const resolved = [...memory.open].filter(([key]) => !open.has(key) && memory.announced.has(key)).map(([, problem]) => problem);

  const notices: HealthNotice[] = [];
  const told = (key: string, problem: HealthProblem): HealthNotice => {
    const back = returns.get(key) ?? 0;
    const again = back === 0 ? '' : ` (it came back ${back} time(s) since its last notice)`;
    return { key, severity: problem.severity, resolved: false, title: titleOf(problem), text: `${problem.message}${again}` };
  };
  if (toTell.length > limits.maxPerCheck) {
    const problems = toTell.map(([, problem]) => problem);
    notices.push({ key: 'summary', severity: worst(problems), resolved: false, title: `${toTell.length} new problems`, text: problems.map((problem) => `- ${problem.message}`).join('\n') });
  } else {
    for (const [key, problem] of toTell) notices.push(told(key, problem));
  }
  for (const [key] of toTell) (announced.add(key), announcedAt.set(key, now), returns.delete(key));
  if (resolved.length > limits.maxPerCheck) {
    notices.push({ key: 'summary', severity: worst(resolved), resolved: true, title: `${resolved.length} problems resolved`, text: resolved.map((problem) => `- ${titleOf(problem)}`).join('\n') });
  } else {
    for (const problem of resolved) notices.push({ key: problemKey(problem), severity: problem.severity, resolved: true, title: titleOf(problem), text: problem.message });
  }

  const capped = overallCap(notices, memory, limits, now);
  return { notices: capped.notices, memory: { open, announced, announcedAt, returns, sentAt: capped.sentAt, held: capped.held } };
}

/** At most `maxPerInterval` messages in any `intervalMs`: first the summary of what was held before, then this check's; the rest held. */
function overallCap(notices: readonly HealthNotice[], memory: NoticeMemory, limits: NoticeLimits, now: number): { notices: HealthNotice[]; sentAt: number[]; held: string[] } {
  const sentAt = memory.sentAt.filter((at) => now - at < limits.intervalMs);
  const budget = Math.max(0, limits.maxPerInterval - sentAt.length);
  const line = (notice: HealthNotice) => `- ${notice.resolved ? 'RESOLVED: ' : ''}${notice.title}`;
  const out: HealthNotice[] = [];
  let held = [...memory.held];
  if (held.length > 0 && budget > 0) {
    // The summary takes one message; what this check has beyond the rest of the budget goes in it too.
    const room = budget - 1;
    const late = notices.slice(room);
    held = [...held, ...late.map(line)];
    out.push({ key: 'summary', severity: late.some((notice) => notice.severity === 'critical' && !notice.resolved) ? 'critical' : 'warning', resolved: false, title: `${held.length} notices held back by the rate limit`, text: held.join('\n') });
    out.push(...notices.slice(0, room));
    held = [];
  } else {
    out.push(...notices.slice(0, budget));
    held = [...held, ...notices.slice(budget).map(line)];
  }
  return { notices: out, sentAt: [...sentAt, ...out.map(() => now)], held };
}
