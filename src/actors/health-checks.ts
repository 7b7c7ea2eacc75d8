/**
 * What the health monitor looks at, gathered from the running orchestra for the pure judge
 * (src/machines/health-judge.ts): the bus connection, the tree (infrastructure and workflow
 * actors apart from the agents' pools), each agent with its restart count and the age of its
 * last heartbeat, each task in flight with the longest its role may take, the dead-letter
 * stream's depth, the tracker's state, the data directory's disk, the JetStream store against its
 * limit, and the orchestrator's own
 * event-loop delay and memory; each issue neither running nor finished with the time it has been
 * in its state, and per role how long an agent of it has been idle (./health-stuck.ts's ages).
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { diskSpace, type DiskSpace } from '../infra/os/disk.ts';
import type { LifecycleContext } from '../machines/issue-lifecycle.ts';
import { mayDispatch } from '../machines/budget.ts';
import { diskFullReason, type HealthObservation, type TaskObservation } from '../machines/health-judge.ts';
import { isBoundedState, stateAges, type IssueStateObservation } from '../machines/health-stuck.ts';
import { flattenTree } from '../supervisor/index.ts';
import type { OrchestraResources } from './resources.ts';

/** Agents live under root/agents/pool.<role>/. */
const AGENT_PATH = /^root\/agents\/pool\.([^/]+)\/([^/]+)$/;

/** True for the actors /readyz answers for: everything but the agents' pools and their agents. */
export function isInfrastructure(path: string): boolean {
  return !path.startsWith('root/agents/');
}

export class HealthObserver {
  readonly #delay: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  /** Since when each issue, and each agent, has been in the state the last check saw. */
  #issueStates = new Map<number, { state: string; since: number }>();
  #agentStates = new Map<string, { state: string; since: number }>();

  constructor(private readonly resources: OrchestraResources) {
    this.#delay.enable();
  }

  async observe(): Promise<HealthObservation> {
    const { resources } = this;
    const now = Date.now();
    const nodes = flattenTree(resources.inspect());
    const actorsDown = nodes
      .filter((node) => node.type === 'worker' && isInfrastructure(node.path) && node.status !== 'running' && node.status !== 'stopping')
      // The monitor checks itself while it is still starting: it is running if it checks.
      .filter((node) => !node.path.endsWith('/health-monitor'))
      .map((node) => `${node.path}: ${node.status}`);
    const agents = nodes.flatMap((node) => {
      const match = AGENT_PATH.exec(node.path);
      if (!match || node.type !== 'worker') return [];
      const heartbeatAt = resources.heartbeats.get(match[2]!);
      // A heartbeat of the agent's previous life is not this one's: it has none yet.
      const heartbeatAgeMs = heartbeatAt === undefined || now - heartbeatAt > node.uptimeMs ? undefined : now - heartbeatAt;
      return [{ id: match[2]!, role: match[1]!, status: node.status, state: node.state, restarts: node.restarts, ...(heartbeatAgeMs === undefined ? {} : { heartbeatAgeMs }) }];
    });
    const streams = await resources.bus?.streams().catch(() => undefined);
    const dlq = streams?.find((stream) => stream.name === resources.bus?.topology.streams.dlq);
    const lagMs = this.#delay.max / 1e6;
    this.#delay.reset();
    const disk = await diskSpace(resources.config.dataDir);
    return {
      busConnected: resources.bus !== undefined && resources.nc !== undefined && !resources.nc.isClosed(),
      actorsDown,
      agents,
      deadLetters: dlq?.messages,
      trackerDegraded: await trackerDegraded(resources),
      diskFreeRatio: disk?.freeRatio,
      diskFreeBytes: disk?.freeBytes,
      natsStore: await natsStore(resources, disk),
      ...(resources.budget?.admission().paused === undefined ? {} : { budgetPaused: resources.budget.admission().paused! }),
      eventLoopLagMs: Number.isFinite(lagMs) ? lagMs : 0,
      rssBytes: process.memoryUsage.rss(),
      roles: resources.taskSamples.snapshot(),
      tasks: tasksInFlight(resources, now),
      issues: this.#issuesWaiting(now, disk?.freeBytes),
      idleForMs: this.#idleForMs(agents, now),
    };
  }

  /** The issues in a state the monitor bounds, each with the time it has been in it. */
  #issuesWaiting(now: number, freeBytes: number | undefined): IssueStateObservation[] {
    const engine = this.resources.workflow;
    if (!engine) return [];
    const { health } = this.resources.config;
    const admission = this.resources.budget?.admission();
    const diskFull = diskFullReason(freeBytes, health.minFreeDiskBytes) !== undefined;
    const issues = [...engine.states()].filter(([, state]) => isBoundedState(state)).map(([issue, state]) => {
      const { context } = engine.snapshot(issue);
      const role = state === 'queued' ? context.route[context.stageIndex]?.role : undefined;
      return {
        issue,
        state,
        role,
        reason: context.reason,
        held: role !== undefined && (diskFull || (admission !== undefined && !mayDispatch(admission, context.priority, role))),
        enteredAt: enteredAt(state, context),
      };
    });
    this.#issueStates = stateAges(this.#issueStates, issues.map(({ issue, state, enteredAt }) => ({ key: issue, state, enteredAt })), now);
    return issues.map(({ issue, state, role, reason, held }) => ({
      issue,
      state,
      ageMs: now - this.#issueStates.get(issue)!.since,
      ...(role === undefined ? {} : { role }),
      ...(reason === undefined ? {} : { reason }),
      ...(held ? { dispatchHeld: true } : {}),
    }));
  }

  /** Per role, the longest one of its agents has been idle since the check that first saw it so. */
  #idleForMs(agents: HealthObservation['agents'], now: number): Record<string, number> {
    this.#agentStates = stateAges(this.#agentStates, agents.map((agent) => ({ key: agent.id, state: agent.status === 'running' ? agent.state : agent.status })), now);
    const idle: Record<string, number> = {};
    for (const agent of agents) {
      const seen = this.#agentStates.get(agent.id)!;
      if (agent.status !== 'running' || !seen.state.endsWith('ready.idle')) continue;
      idle[agent.role] = Math.max(idle[agent.role] ?? 0, now - seen.since);
    }
    return idle;
  }

  close(): void {
    this.#delay.disable();
  }
}

/** When the lifecycle says the issue entered `state`, where it keeps that. */
function enteredAt(state: string, context: LifecycleContext): number | undefined {
  if (state === 'merging') return context.mergingSince;
  if (state === 'waiting_for_human') return context.history.at(-1)?.finishedAt;
  return undefined;
}

/**
 * The issues running an agent's task, each with the longest its role may take: the agent's
 * timeout and grace, and the heartbeat deadline after which a dead runner's task is handed on —
 * once for every delivery the bus makes before it dead-letters the task.
 */
export function tasksInFlight(resources: OrchestraResources, now: number): TaskObservation[] {
  const engine = resources.workflow;
  if (!engine) return [];
  const { agents, panes, bus } = resources.config;
  return [...engine.records.keys()].flatMap((issue) => {
    const snapshot = engine.snapshot(issue);
    const { context } = snapshot;
    const role = context.route[context.stageIndex]?.role;
    const agent = role === undefined ? undefined : agents[role];
    if (!snapshot.matches('running') || agent === undefined || context.taskId === undefined || context.dispatchedAt === undefined) return [];
    const limitMs = (agent.taskTimeoutMs + agent.graceMs + panes.missedHeartbeats * panes.heartbeatIntervalMs) * bus.maxDeliver;
    return [{ issue, taskId: context.taskId, role: role!, ageMs: now - context.dispatchedAt, limitMs }];
  });
}

/**
 * The store the bus's streams use, against the account's JetStream limit; without one, the
 * embedded server's store against the size of the disk it lives on (`<dataDir>/nats`). An
 * external server's disk is not the orchestra's to see: without an account limit, unknown.
 */
async function natsStore(resources: OrchestraResources, disk: DiskSpace | undefined): Promise<HealthObservation['natsStore']> {
  const usage = await resources.bus?.storeUsage().catch(() => undefined);
  if (!usage) return undefined;
  const { config } = resources;
  if (config.bus.storage === 'memory') {
    return usage.memoryLimitBytes === undefined ? undefined : { bytes: usage.memoryBytes, limitBytes: usage.memoryLimitBytes, limitOf: "the account's memory limit" };
  }
  if (usage.fileLimitBytes !== undefined) return { bytes: usage.fileBytes, limitBytes: usage.fileLimitBytes, limitOf: "the account's JetStream limit" };
  if (config.nats.urls.length > 0) return undefined;
  return disk === undefined ? undefined : { bytes: usage.fileBytes, limitBytes: disk.sizeBytes, limitOf: "the data directory's disk" };
}

async function trackerDegraded(resources: OrchestraResources): Promise<boolean> {
  const metric = await resources.metrics.registry.getSingleMetric('miyabi_tracker_degraded')?.get();
  return (metric?.values[0]?.value ?? 0) === 1;
}
