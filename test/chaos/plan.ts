/**
 * What a chaos run does, decided up front from its seed (so a run can be replayed): the backlog
 * (issues with random dependencies on earlier ones, some of them slow) and the fault schedule
 * (each fault a kind and the count of dispatched stages after which it strikes). Pure.
 */
import { seededRandom } from '../../bench/dag.ts';

export const FAULT_KINDS = ['kill_agent', 'kill_runner', 'silence_runner', 'kill_nats', 'kill_orchestrator'] as const;
export type ProcessFaultKind = (typeof FAULT_KINDS)[number];
/** The tracker's faults, when the tracker is the fake GitHub (test/chaos/tracker.ts says what each does). */
export const TRACKER_FAULT_KINDS = ['tracker_5xx', 'tracker_secondary_limit', 'tracker_drop', 'tracker_slow'] as const;
export type TrackerFaultKind = (typeof TRACKER_FAULT_KINDS)[number];
/**
 * A full disk for the data directory (`--full-disk`: the data directory on a tmpfs of its own,
 * test/chaos/full-disk.ts): a ballast takes every page, and is removed a while later.
 */
export const DISK_FAULT_KINDS = ['full_disk'] as const;
export type DiskFaultKind = (typeof DISK_FAULT_KINDS)[number];
export type FaultKind = ProcessFaultKind | TrackerFaultKind | DiskFaultKind;

export interface PlannedIssue {
  number: number;
  dependsOn: number[];
  /** `demo:slow`: the example agents take three seconds longer, so a fault finds them at work. */
  slow: boolean;
}

export interface PlannedFault {
  kind: FaultKind;
  /** Strikes once this many stages have been dispatched (the orchestra log's `stage dispatched`). */
  afterStages: number;
}

export interface ChaosPlan {
  seed: number;
  issues: PlannedIssue[];
  faults: PlannedFault[];
}

// The benchmarks' seeded generator (mulberry32): the same numbers for the same seed everywhere.
export { seededRandom } from '../../bench/dag.ts';

/** Stages a docs issue goes through with the example agents: codegen, pr, merge. */
export const STAGES_PER_ISSUE = 3;

/** `kinds`: the faults to draw from (default the process faults: the plans of the local runs stay what they were). */
export function planChaos(options: { seed: number; issues: number; faults: number; kinds?: readonly FaultKind[] }): ChaosPlan {
  const random = seededRandom(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const issues: PlannedIssue[] = [];
  for (let number = 1; number <= options.issues; number += 1) {
    // Up to two dependencies on earlier issues: a DAG by construction, some chains deep.
    const dependsOn = new Set<number>();
    for (let i = 0; i < 2 && number > 1; i += 1) if (random() < 0.45) dependsOn.add(1 + Math.floor(random() * (number - 1)));
    issues.push({ number, dependsOn: [...dependsOn].sort((a, b) => a - b), slow: random() < 0.5 });
  }
  // Faults strike while work goes on: spread over the first three quarters of the stages.
  const stages = Math.max(1, Math.floor(options.issues * STAGES_PER_ISSUE * 0.75));
  const kinds = options.kinds ?? FAULT_KINDS;
  const faults: PlannedFault[] = Array.from({ length: options.faults }, () => ({ kind: pick(kinds), afterStages: 1 + Math.floor(random() * stages) }));
  faults.sort((a, b) => a.afterStages - b.afterStages);
  return { seed: options.seed, issues, faults };
}

/** The issue's text: its dependencies as a task list, as an operator writes them (local file or GitHub alike). */
export const issueBody = (issue: PlannedIssue): string => [`Write note ${issue.number} down.`, '', ...issue.dependsOn.map((n) => `- [ ] #${n} comes first`)].join('\n');

export function issueFile(issue: PlannedIssue): string {
  const labels = ['miyabi', 'type:docs', ...(issue.slow ? ['demo:slow'] : [])];
  const body = issueBody(issue);
  return `---\nnumber: ${issue.number}\ntitle: Chaos note ${issue.number}\nlabels: [${labels.join(', ')}]\nauthor: aiko\n---\n${body}\n`;
}

export function describePlan(plan: ChaosPlan): string {
  const faults = plan.faults.map((fault) => `${fault.kind}@${fault.afterStages}`).join(' ');
  const edges = plan.issues.filter((issue) => issue.dependsOn.length > 0).map((issue) => `#${issue.number}<-${issue.dependsOn.map((n) => `#${n}`).join(',')}`);
  return `seed ${plan.seed}: ${plan.issues.length} issues (${edges.length} with dependencies: ${edges.join(' ') || 'none'}); faults: ${faults || 'none'}`;
}
