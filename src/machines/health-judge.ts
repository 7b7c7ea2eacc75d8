/**
 * The health monitor's judgement, pure: what one observation of the orchestra (gathered by
 * src/actors/health-checks.ts) says is wrong, each finding a typed problem with a severity. It
 * remembers only what it needs from the previous check (restart counts, the dead-letter depth),
 * so an agent that died and was restarted between two checks is still noticed.
 *
 *   bus_disconnected     critical  the orchestrator's NATS connection is down
 *   actor_down           critical  an infrastructure or workflow actor is not running
 *   agent_down           warning   an agent is restarting, unresponsive, overdue or failed
 *   agent_restarted      warning   an agent restarted since the last check (it died)
 *   dead_letters_growing warning   MIYABI_DLQ holds more messages than at the last check
 *   tracker_degraded     warning   tracker requests are failing or waiting on a rate limit
 *   disk_low             warning under 10 % free on the data directory's disk, critical under 5 %
 *   nats_store_full      warning   the JetStream store over `maxStoreShare` of its limit (the account's, else
 *                                  the data directory's disk for the embedded server); critical from 95 %
 *   disk_full            critical  under `minFreeDiskBytes` free: no new work is dispatched until there is more
 *   event_loop_lag       warning   the orchestrator's event loop was held up over `maxEventLoopLagMs`
 *   memory_high          warning   the orchestrator's resident memory over `maxRssBytes`
 *   task_stuck           warning   an issue's task has had no result for longer than its role allows
 *                                  (timeout + grace + heartbeat deadline, for every delivery the bus makes)
 *   issue_stuck          warning   an issue in a state other than running past its bound (`health.stuckIssues`:
 *                                  waiting, blocked, queued, retrying, merging …; ./health-stuck.ts)
 *   dispatch_stalled     warning   an issue queued while an agent of its role idles, past `queuedWhileIdleMs`
 *   heartbeat_late       warning   a ready agent's last heartbeat is older than `heartbeatLateMs` (a beat missed)
 *   slow_tasks           warning   a role's recent tasks are slower than its baseline (./health-anomaly.ts)
 *   failure_rate         warning   a role's recent tasks fail at least twice as often as before
 *   budget_exhausted     critical  the daily budget is used up: dispatch paused until the next budget day or `budget resume`
 */

import { detectAnomalies, type RoleSamples } from './health-anomaly.ts';
import { judgeStuckIssues, type IssueStateObservation, type StuckIssueLimits } from './health-stuck.ts';

export type Severity = 'warning' | 'critical';

export type HealthProblemKind =
  | 'bus_disconnected'
  | 'actor_down'
  | 'agent_down'
  | 'agent_restarted'
  | 'dead_letters_growing'
  | 'tracker_degraded'
  | 'disk_low'
  | 'nats_store_full'
  | 'disk_full'
  | 'event_loop_lag'
  | 'memory_high'
  | 'task_stuck'
  | 'issue_stuck'
  | 'dispatch_stalled'
  | 'heartbeat_late'
  | 'slow_tasks'
  | 'failure_rate'
  | 'budget_exhausted';

export interface HealthProblem {
  kind: HealthProblemKind;
  severity: Severity;
  /** What it is about: an actor's path, an agent, the data directory … */
  subject: string;
  message: string;
}

export interface AgentObservation {
  id: string;
  role: string;
  /** The supervisor's view: running, backoff, stopped, stopping … */
  status: string;
  /** The machine's state: alive.ready.idle, alive.unresponsive … */
  state: string;
  restarts: number;
  /** Since its runner's last heartbeat; undefined before the first. */
  heartbeatAgeMs?: number;
}

/** A task the workflow dispatched and has no result of yet. */
export interface TaskObservation {
  issue: number;
  taskId: string;
  role: string;
  /** Since it was dispatched. */
  ageMs: number;
  /** The longest its role may take: past it, nothing on the way will bring a result. */
  limitMs: number;
}

export interface HealthObservation {
  busConnected: boolean;
  /** Actors outside the agents' pools that are not running (path: status). */
  actorsDown: string[];
  agents: AgentObservation[];
  /** Messages in MIYABI_DLQ; undefined when it could not be read. */
  deadLetters: number | undefined;
  trackerDegraded: boolean;
  /** Free share (0..1) of the data directory's disk; undefined when unknown. */
  diskFreeRatio: number | undefined;
  /** The JetStream store's bytes against its limit; undefined when unknown (or no limit is known). */
  natsStore?: { bytes: number; limitBytes: number; limitOf: string };
  /** Why the budget paused dispatch (src/machines/budget.ts), while it does. */
  budgetPaused?: string;
  /** Free bytes on that disk; undefined when unknown. */
  diskFreeBytes?: number | undefined;
  /** The worst event-loop delay since the last check. */
  eventLoopLagMs: number;
  rssBytes: number;
  /** Each role's recent task durations and outcomes. */
  roles?: Record<string, RoleSamples>;
  /** The tasks in flight. */
  tasks?: TaskObservation[];
  /** The issues neither running a task nor finished, each with the time in its state. */
  issues?: IssueStateObservation[];
  /** Per role, the longest one of its agents has been idle without a break. */
  idleForMs?: Record<string, number>;
}

export interface HealthLimits {
  maxEventLoopLagMs: number;
  maxRssBytes: number;
  /** A ready agent's heartbeat older than this is late (two of its intervals: one missed). */
  heartbeatLateMs: number;
  /** The JetStream store's share of its limit that is too much. */
  maxStoreShare: number;
  /** Under this many free bytes on the data directory's disk, dispatch stops (`health.minFreeDiskBytes`). */
  minFreeDiskBytes?: number;
  /** The longest an issue may stay in each state (`health.stuckIssues`); absent, issues are not judged. */
  stuckIssues?: StuckIssueLimits;
}

export const DEFAULT_HEALTH_LIMITS: HealthLimits = { maxEventLoopLagMs: 1_000, maxRssBytes: 2 * 1024 ** 3, heartbeatLateMs: 4_000, maxStoreShare: 0.8 };

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;
const mib = (bytes: number) => (bytes / 1024 ** 2).toFixed(1);

/** The disk guard's verdict: why no new work may start, or undefined when it may. */
export function diskFullReason(freeBytes: number | undefined, minFreeBytes: number): string | undefined {
  if (freeBytes === undefined || freeBytes >= minFreeBytes) return undefined;
  const mib = (bytes: number) => `${Math.floor(bytes / 1024 ** 2)} MiB`;
  return `${mib(freeBytes)} free on the data directory's disk, under health.minFreeDiskBytes (${mib(minFreeBytes)}): no new work is dispatched`;
}

/** What a check carries over to the next one. */
export interface HealthMemory {
  restarts: Record<string, number>;
  deadLetters: number | undefined;
  /** Anomalies flagged at the last check (hysteresis). */
  anomalies?: ReadonlySet<string>;
}

export const EMPTY_HEALTH_MEMORY: HealthMemory = { restarts: {}, deadLetters: undefined };

const UNHEALTHY_AGENT = /unresponsive|overdue|failed|dead/;

export function judgeHealth(
  observation: HealthObservation,
  memory: HealthMemory,
  limits: HealthLimits = DEFAULT_HEALTH_LIMITS,
): { problems: HealthProblem[]; memory: HealthMemory } {
  const problems: HealthProblem[] = [];
  const add = (kind: HealthProblemKind, severity: Severity, subject: string, message: string) => problems.push({ kind, severity, subject, message });
  if (!observation.busConnected) add('bus_disconnected', 'critical', 'bus', 'bus not connected');
  for (const entry of observation.actorsDown) add('actor_down', 'critical', entry.split(':')[0]!, entry);
  const restarts: Record<string, number> = {};
  for (const agent of observation.agents) {
    restarts[agent.id] = agent.restarts;
    const before = memory.restarts[agent.id];
    if (before !== undefined && agent.restarts > before) {
      add('agent_restarted', 'warning', agent.id, `agent ${agent.id} (${agent.role}) restarted ${agent.restarts - before} time(s) since the last check`);
    }
    if (agent.status === 'stopping') continue;
    if (agent.status !== 'running') add('agent_down', 'warning', agent.id, `agent ${agent.id} (${agent.role}) is ${agent.status}`);
    else if (UNHEALTHY_AGENT.test(agent.state)) add('agent_down', 'warning', agent.id, `agent ${agent.id} (${agent.role}) is ${agent.state}`);
    else if (agent.state.startsWith('alive.ready') && agent.heartbeatAgeMs !== undefined && agent.heartbeatAgeMs > limits.heartbeatLateMs) {
      add('heartbeat_late', 'warning', agent.id, `agent ${agent.id} (${agent.role}): last heartbeat ${seconds(agent.heartbeatAgeMs)} ago`);
    }
  }
  for (const task of observation.tasks ?? []) {
    if (task.ageMs <= task.limitMs) continue;
    add('task_stuck', 'warning', `#${task.issue}`, `task ${task.taskId} of issue #${task.issue} (${task.role}) has had no result for ${seconds(task.ageMs)}, past the ${seconds(task.limitMs)} its role allows`);
  }
  if (limits.stuckIssues) problems.push(...judgeStuckIssues(observation.issues ?? [], new Map(Object.entries(observation.idleForMs ?? {})), limits.stuckIssues));
  const { deadLetters } = observation;
  if (deadLetters !== undefined && memory.deadLetters !== undefined && deadLetters > memory.deadLetters) {
    add('dead_letters_growing', 'warning', 'MIYABI_DLQ', `dead letters grew from ${memory.deadLetters} to ${deadLetters}`);
  }
  if (observation.trackerDegraded) add('tracker_degraded', 'warning', 'tracker', 'tracker requests are failing or waiting on a rate limit');
  const free = observation.diskFreeRatio;
  if (free !== undefined && free < 0.1) add('disk_low', free < 0.05 ? 'critical' : 'warning', 'dataDir', `${(free * 100).toFixed(1)} % free on the data directory's disk`);
  const store = observation.natsStore;
  if (store !== undefined && store.bytes > store.limitBytes * limits.maxStoreShare) {
    const share = store.bytes / store.limitBytes;
    add('nats_store_full', share >= 0.95 ? 'critical' : 'warning', 'nats', `the JetStream store holds ${mib(store.bytes)} MiB, ${(share * 100).toFixed(1)} % of ${store.limitOf} (${mib(store.limitBytes)} MiB)`);
  }
  const full = diskFullReason(observation.diskFreeBytes, limits.minFreeDiskBytes ?? 0);
  if (full !== undefined) add('disk_full', 'critical', 'dataDir', full);
  if (observation.budgetPaused !== undefined) add('budget_exhausted', 'critical', 'budget', observation.budgetPaused);
  if (observation.eventLoopLagMs > limits.maxEventLoopLagMs) add('event_loop_lag', 'warning', 'orchestrator', `event loop held up ${Math.round(observation.eventLoopLagMs)} ms`);
  if (observation.rssBytes > limits.maxRssBytes) add('memory_high', 'warning', 'orchestrator', `resident memory ${Math.round(observation.rssBytes / 1024 ** 2)} MiB`);
  const detected = detectAnomalies(observation.roles ?? {}, memory.anomalies ?? new Set());
  for (const anomaly of detected.anomalies) add(anomaly.kind, 'warning', anomaly.role, anomaly.message);
  return { problems, memory: { restarts, deadLetters: deadLetters ?? memory.deadLetters, anomalies: detected.flagged } };
}
