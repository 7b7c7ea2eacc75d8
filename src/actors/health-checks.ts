/**
 * What the health monitor looks at, gathered from the running orchestra for the pure judge
 * (src/machines/health-judge.ts): the bus connection, the tree (infrastructure and workflow
 * actors apart from the agents' pools), each agent with its restart count and the age of its
 * last heartbeat, each task in flight with the longest its role may take, the dead-letter
 * stream's depth, the tracker's state, the data directory's disk, the JetStream store against its
 * limit, and the orchestrator's own
 * event-loop delay and memory.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { diskSpace, type DiskSpace } from '../infra/os/disk.ts';
import type { HealthObservation, TaskObservation } from '../machines/health-judge.ts';
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
    };
  }

  close(): void {
    this.#delay.disable();
  }
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
  return [...engine.states().keys()].flatMap((issue) => {
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
