/**
 * The plan's five KPIs computed from a history of facts over a window (docs/KPI.md): what
 * `miyabi-orchestra kpi` prints, from the facts it reads back from MIYABI_EVENTS
 * (src/workflow/kpi-facts.ts). Pure: no clock, no I/O, so a scripted history has exact answers.
 *
 *   autonomy      1 − (down ∪ waiting for a person) / observed time
 *   throughput    issues finished per day of the window (and done per day)
 *   MTTR          mean of (recovered − noticed) over recoveries in the window
 *   utilization   busy agent time / available agent time, per role, the Conductor excluded
 *   success rate  issues done / (done + failed); and tasks completed normally / task results
 *
 * Alive samples are the health reports: between two reports from two runs of the orchestra (their
 * `startedAt` differ), or of one run further apart than `GAP_FACTOR × intervalMs` and
 * `MIN_SILENCE_MS`, the orchestra was down (not running, or too stuck to check), the whole gap.
 * A gap with a planned stop in it ended with a person starting the orchestra again (a manual
 * restart); so does a gap between two runs whose first run was asked to stop at all (its monitor
 * may still report while it shuts down, after the stop). Any other gap is a fault
 * (`orchestra_down`) recovered when the reports resume.
 */

export type Intervention = 'answer' | 'retry_command' | 'label_edit' | 'manual_restart';

export type KpiFact =
  /** A health report: the orchestra (started at `startedAt`) was alive at `at`, checking every `intervalMs`, with `agents` per role present. */
  | { kind: 'alive'; at: number; intervalMs: number; agents: Readonly<Record<string, number>>; startedAt?: number }
  /** A task's result arrived at `at`; its agent had worked `durationMs` on it. */
  | { kind: 'task'; at: number; issue: number; role: string; durationMs: number; status: string }
  | { kind: 'finished'; at: number; issue: number; outcome: 'done' | 'failed' | 'released' }
  | { kind: 'intervention'; at: number; intervention: Intervention; issue?: number }
  /** A fault noticed in the orchestra (its actor `actor`). */
  | { kind: 'fault'; at: number; actor: string; fault: string }
  /** The work of `actor` running again at `at`, after `fault` noticed at `noticedAt`. */
  | { kind: 'recovery'; at: number; actor: string; fault: string; noticedAt: number }
  /** The orchestra asked to stop (a signal, `stop`, a settled `--once`): a planned stop, not a fault. */
  | { kind: 'stopped'; at: number };

export interface KpiWindow {
  since: number;
  until: number;
}

export interface RoleUtilization {
  busyMs: number;
  availableMs: number;
  /** busy / available, at most 1; null when no agent of the role was available. */
  ratio: number | null;
}

export interface KpiReport {
  window: { since: string; until: string; observedMs: number };
  autonomy: { ratio: number | null; downMs: number; waitingForPersonMs: number; interventions: Record<Intervention, number> };
  throughput: { finishedPerDay: number; donePerDay: number; finished: number; done: number; failed: number; released: number };
  mttr: { meanMs: number | null; recoveries: number; unrecovered: number; byFault: Record<string, { meanMs: number; count: number }> };
  utilization: { ratio: number | null; byRole: Record<string, RoleUtilization> };
  successRate: { issues: number | null; tasks: number | null; tasksNormal: number; tasksTotal: number };
}

/** Health reports further apart than this many intervals mean the orchestra was down in between. */
export const GAP_FACTOR = 3;
/** A run silent for less is busy, not down: a slow check on a loaded host is no outage. */
export const MIN_SILENCE_MS = 30_000;
const DAY_MS = 86_400_000;
/** The Conductor talks with people; its time is not agent work (the plan counts agents' utilization). */
export const CONDUCTOR = 'conductor';
/** A task result that is its task done: a review asking for changes did its job too. */
const NORMAL_STATUSES = new Set(['success', 'changes_requested']);
export const INTERVENTIONS: readonly Intervention[] = ['answer', 'retry_command', 'label_edit', 'manual_restart'];

type Interval = readonly [number, number];

function clip([from, to]: Interval, [lo, hi]: Interval): Interval | undefined {
  const start = Math.max(from, lo);
  const end = Math.min(to, hi);
  return end > start ? [start, end] : undefined;
}

/** Total length of the union of intervals. */
export function unionLength(intervals: readonly Interval[]): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let current: [number, number] | undefined;
  for (const [start, end] of sorted) {
    if (current && start <= current[1]) current[1] = Math.max(current[1], end);
    else {
      if (current) total += current[1] - current[0];
      current = [start, end];
    }
  }
  return current ? total + current[1] - current[0] : total;
}

const within = (at: number, window: KpiWindow): boolean => at >= window.since && at <= window.until;
const ratio = (part: number, whole: number): number | null => (whole > 0 ? part / whole : null);

interface Alive {
  observed: Interval | undefined;
  down: Interval[];
  /** The gaps that followed a planned stop: started again by a person. */
  restarts: Interval[];
  /** Spans the orchestra was up between two reports, with the agents present on average (the mean of its two ends). */
  up: { span: Interval; agents: Readonly<Record<string, number>> }[];
}

/**
 * The agents of a span between two reports: the mean of its ends. The monitor reports when they
 * change, but a check can be late (a loaded machine at start), and the agents that came up
 * meanwhile were there for part of the span, not none of it.
 */
function meanAgents(first: Readonly<Record<string, number>>, second: Readonly<Record<string, number>>): Record<string, number> {
  const mean: Record<string, number> = {};
  for (const role of new Set([...Object.keys(first), ...Object.keys(second)])) mean[role] = ((first[role] ?? 0) + (second[role] ?? 0)) / 2;
  return mean;
}

function aliveSpans(facts: readonly KpiFact[], window: KpiWindow): Alive {
  const reports = facts.filter((fact) => fact.kind === 'alive' && within(fact.at, window)) as Extract<KpiFact, { kind: 'alive' }>[];
  reports.sort((a, b) => a.at - b.at);
  const stops = facts.filter((fact) => fact.kind === 'stopped').map((fact) => fact.at);
  const down: Interval[] = [];
  const restarts: Interval[] = [];
  const up: Alive['up'] = [];
  for (let index = 1; index < reports.length; index += 1) {
    const previous = reports[index - 1]!;
    const next = reports[index]!;
    const span: Interval = [previous.at, next.at];
    const restarted = previous.startedAt !== undefined && next.startedAt !== undefined && previous.startedAt !== next.startedAt;
    if (!restarted && span[1] - span[0] <= Math.max(GAP_FACTOR * previous.intervalMs, MIN_SILENCE_MS)) up.push({ span, agents: meanAgents(previous.agents, next.agents) });
    else {
      down.push(span);
      // A run stops once: a stop after the previous run began was its end, planned.
      const from = restarted ? Math.min(span[0], previous.startedAt!) : span[0];
      if (stops.some((at) => at >= from && at <= span[1])) restarts.push(span);
    }
  }
  const observed: Interval | undefined = reports.length >= 2 ? [reports[0]!.at, reports.at(-1)!.at] : undefined;
  return { observed, down, restarts, up };
}

/** When the work began waiting for the person who intervened at `at`: the question, or the issue's finish. */
function waitingSince(facts: readonly KpiFact[], fact: Extract<KpiFact, { kind: 'intervention' }>): number {
  let since = fact.at;
  for (const other of facts) {
    if (other.at > fact.at || other.kind === 'intervention' || !('issue' in other) || other.issue !== fact.issue) continue;
    const waits =
      (fact.intervention === 'answer' && other.kind === 'task' && other.status === 'needs_input') ||
      (fact.intervention === 'retry_command' && other.kind === 'finished');
    if (waits && (since === fact.at || other.at > since)) since = other.at;
  }
  return since;
}

function autonomy(facts: readonly KpiFact[], window: KpiWindow, alive: Alive): KpiReport['autonomy'] {
  const interventions = Object.fromEntries(INTERVENTIONS.map((kind) => [kind, 0])) as Record<Intervention, number>;
  const waiting: Interval[] = [];
  for (const fact of facts) {
    if (fact.kind !== 'intervention' || !within(fact.at, window)) continue;
    interventions[fact.intervention] += 1;
    waiting.push([waitingSince(facts, fact), fact.at]);
  }
  interventions.manual_restart += alive.restarts.length;
  if (!alive.observed) return { ratio: null, downMs: 0, waitingForPersonMs: 0, interventions };
  const observed = alive.observed;
  const clipped = (intervals: Interval[]) => intervals.flatMap((interval) => {
    const inside = clip(interval, observed);
    return inside ? [inside] : [];
  });
  const downMs = unionLength(clipped(alive.down));
  const waitingForPersonMs = unionLength(clipped(waiting));
  const lost = unionLength([...clipped(alive.down), ...clipped(waiting)]);
  return { ratio: ratio(observed[1] - observed[0] - lost, observed[1] - observed[0]), downMs, waitingForPersonMs, interventions };
}

function throughput(facts: readonly KpiFact[], window: KpiWindow): KpiReport['throughput'] {
  const counts = { done: 0, failed: 0, released: 0 };
  for (const fact of facts) if (fact.kind === 'finished' && within(fact.at, window)) counts[fact.outcome] += 1;
  const finished = counts.done + counts.failed + counts.released;
  const days = (window.until - window.since) / DAY_MS;
  return { finishedPerDay: days > 0 ? finished / days : 0, donePerDay: days > 0 ? counts.done / days : 0, finished, ...counts };
}

function mttr(facts: readonly KpiFact[], window: KpiWindow, alive: Alive): KpiReport['mttr'] {
  const recoveries = alive.down.filter((gap) => !alive.restarts.includes(gap)).map(([from, to]) => ({ fault: 'orchestra_down', ms: to - from }));
  let unrecovered = 0;
  for (const fact of facts) {
    if (!within(fact.at, window)) continue;
    if (fact.kind === 'recovery') recoveries.push({ fault: fact.fault, ms: Math.max(0, fact.at - fact.noticedAt) });
    if (fact.kind === 'fault') {
      // Its recovery: noticed when it was (the fault's fact is published just after), recovered after.
      const recovered = facts.some((other) => other.kind === 'recovery' && other.actor === fact.actor && other.noticedAt <= fact.at && other.at >= fact.at);
      if (!recovered) unrecovered += 1;
    }
  }
  const byFault: KpiReport['mttr']['byFault'] = {};
  for (const { fault, ms } of recoveries) {
    const entry = (byFault[fault] ??= { meanMs: 0, count: 0 });
    entry.meanMs = (entry.meanMs * entry.count + ms) / (entry.count + 1);
    entry.count += 1;
  }
  const total = recoveries.reduce((sum, recovery) => sum + recovery.ms, 0);
  return { meanMs: recoveries.length > 0 ? total / recoveries.length : null, recoveries: recoveries.length, unrecovered, byFault };
}

function utilization(facts: readonly KpiFact[], alive: Alive): KpiReport['utilization'] {
  const byRole: Record<string, RoleUtilization> = {};
  const role = (name: string) => (byRole[name] ??= { busyMs: 0, availableMs: 0, ratio: null });
  for (const { span, agents } of alive.up) {
    for (const [name, count] of Object.entries(agents)) if (name !== CONDUCTOR) role(name).availableMs += count * (span[1] - span[0]);
  }
  if (alive.observed) {
    for (const fact of facts) {
      if (fact.kind !== 'task' || fact.role === CONDUCTOR) continue;
      const busy = clip([fact.at - fact.durationMs, fact.at], alive.observed);
      if (busy) role(fact.role).busyMs += busy[1] - busy[0];
    }
  }
  let busyMs = 0;
  let availableMs = 0;
  for (const entry of Object.values(byRole)) {
    entry.ratio = entry.availableMs > 0 ? Math.min(1, entry.busyMs / entry.availableMs) : null;
    busyMs += entry.busyMs;
    availableMs += entry.availableMs;
  }
  return { ratio: availableMs > 0 ? Math.min(1, busyMs / availableMs) : null, byRole };
}

function successRate(facts: readonly KpiFact[], window: KpiWindow): KpiReport['successRate'] {
  let done = 0;
  let failed = 0;
  let tasksNormal = 0;
  let tasksTotal = 0;
  for (const fact of facts) {
    if (!within(fact.at, window)) continue;
    if (fact.kind === 'finished' && fact.outcome === 'done') done += 1;
    if (fact.kind === 'finished' && fact.outcome === 'failed') failed += 1;
    if (fact.kind === 'task') {
      tasksTotal += 1;
      if (NORMAL_STATUSES.has(fact.status)) tasksNormal += 1;
    }
  }
  return { issues: ratio(done, done + failed), tasks: ratio(tasksNormal, tasksTotal), tasksNormal, tasksTotal };
}

/** The five KPIs of `facts` (in any order) over `window`. */
export function computeKpis(facts: readonly KpiFact[], window: KpiWindow): KpiReport {
  const alive = aliveSpans(facts, window);
  const observedMs = alive.observed ? alive.observed[1] - alive.observed[0] : 0;
  return {
    window: { since: new Date(window.since).toISOString(), until: new Date(window.until).toISOString(), observedMs },
    autonomy: autonomy(facts, window, alive),
    throughput: throughput(facts, window),
    mttr: mttr(facts, window, alive),
    utilization: utilization(facts, alive),
    successRate: successRate(facts, window),
  };
}
