/**
 * The config of one orchestra node of a test cluster (test/cluster/*): its own data directory,
 * the cluster's NATS URLs, R3 memory streams, and, shared by every node under `dir`, the issue
 * directory, tracker and workspace repository (`prepareClusterDir` makes them). `extra` adds or
 * replaces sections.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { gitRepo } from './orchestra.ts';

export function clusterNodeConfig(dir: string, urls: string[], name: string, leaseTtlMs: number, extra: Record<string, unknown> = {}): string {
  return stringify({
    dataDir: join(dir, name),
    http: { enabled: false },
    nats: { urls },
    bus: { storage: 'memory' },
    cluster: { node: name, replicas: 3, leaseTtlMs },
    issues: { local: { dir: join(dir, 'issues'), trackerDir: join(dir, 'tracker'), pollIntervalMs: 500 } },
    agents: { codegen: { command: ['true'], min: 0, max: 1 } },
    workflow: { routes: [], defaultRoute: ['codegen'] },
    workspace: { repo: join(dir, 'repo') },
    panes: { backend: 'process', spareRunners: false },
    ...extra,
  });
}

/** The issue directory and the workspace repository every node of a test cluster shares. */
export async function prepareClusterDir(dir: string): Promise<void> {
  await mkdir(join(dir, 'issues'));
  await mkdir(join(dir, 'repo'));
  await gitRepo(join(dir, 'repo'));
}
