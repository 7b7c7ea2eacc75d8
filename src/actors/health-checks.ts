/**
 * What the health monitor looks at, gathered from the running orchestra for the pure judge
 * (src/machines/health-judge.ts): the bus connection, the tree (infrastructure and workflow
 * actors apart from the agents' pools), each agent with its restart count, the dead-letter
 * stream's depth, the tracker's state, the data directory's disk, and the orchestrator's own
 * event-loop delay and memory.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { diskSpace } from '../infra/os/disk.ts';
import type { HealthObservation } from '../machines/health-judge.ts';
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
    const nodes = flattenTree(resources.inspect());
    const actorsDown = nodes
      .filter((node) => node.type === 'worker' && isInfrastructure(node.path) && node.status !== 'running' && node.status !== 'stopping')
      // The monitor checks itself while it is still starting: it is running if it checks.
      .filter((node) => !node.path.endsWith('/health-monitor'))
      .map((node) => `${node.path}: ${node.status}`);
    const agents = nodes.flatMap((node) => {
      const match = AGENT_PATH.exec(node.path);
      return match && node.type === 'worker' ? [{ id: match[2]!, role: match[1]!, status: node.status, state: node.state, restarts: node.restarts }] : [];
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
      eventLoopLagMs: Number.isFinite(lagMs) ? lagMs : 0,
      rssBytes: process.memoryUsage.rss(),
      roles: resources.taskSamples.snapshot(),
    };
  }

  close(): void {
    this.#delay.disable();
  }
}

async function trackerDegraded(resources: OrchestraResources): Promise<boolean> {
  const metric = await resources.metrics.registry.getSingleMetric('miyabi_tracker_degraded')?.get();
  return (metric?.values[0]?.value ?? 0) === 1;
}
