/**
 * The bus topology a config asks for: the fields of the bus's `BusTopologyOptions`
 * (src/infra/bus/topology.ts) that the config sets. The orchestrator's Bus and every runner's take
 * it from here, so they ensure the same streams and buckets (with the same replicas) and never
 * drift apart.
 */
import type { OrchestraConfig } from './schema.ts';
import { replicasOf } from './sections/cluster.ts';

export interface ConfiguredTopology {
  storage: 'file' | 'memory';
  duplicateWindowMs: number;
  maxBytes: OrchestraConfig['bus']['maxBytes'];
  /** Of every stream and bucket: `cluster.replicas` (1 on a single node). */
  replicas: number;
}

export function busTopologyOf(config: Pick<OrchestraConfig, 'bus' | 'cluster'>): ConfiguredTopology {
  return { storage: config.bus.storage, duplicateWindowMs: config.bus.duplicateWindowMs, maxBytes: config.bus.maxBytes, replicas: replicasOf(config) };
}
