/**
 * Config section of scale-out (docs/CLUSTER.md): this node's name, the replica count of the
 * streams and KV buckets, and the leader lease. Without the section a single node runs exactly as
 * before; with it (cluster mode) the leader-only work runs under the lease; several replicas need a NATS cluster in `nats.urls` (checked by the
 * schema: the embedded nats-server is one server).
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import { millis } from '../fields.ts';

/**
 * What a node name may be: it becomes part of every agent and spare id of the node
 * (`<node>-<role>-<n>`, src/runner/task-message.ts), so a token of NATS subjects, a file name, a
 * tmux pane title, a metrics label value and a part of KV keys, besides the lease's holder.
 */
const NODE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export const clusterSection = z
  .object({
    node: z
      .string()
      .regex(NODE_NAME, 'expected letters, digits, "-" or "_" (at most 64): the node name is part of its agents\' ids, which are NATS subject tokens, file names and KV key parts')
      .optional()
      .describe('This node\'s name in the cluster, unique among the nodes (the lease names its holder by it, and it prefixes this node\'s agent ids: `<node>-codegen-1`). Unset: the host name, its other characters made "-"'),
    replicas: z
      .number()
      .int()
      .min(1)
      .max(5)
      .default(1)
      .describe('Replicas of every stream and KV bucket (JetStream allows 1 to 5); 3 survives the loss of one NATS server of three. More than 1 needs a NATS cluster of at least as many servers in nats.urls'),
    leaseTtlMs: millis(
      'How long the leader\'s lease lasts without a renewal: a node that stops renewing (dead, paused, cut off) is replaced after at most this plus one poll (a third of it)',
      10_000,
      300,
    ),
  })
  .strict()
  .describe(
    'Several orchestra nodes on one NATS JetStream cluster (docs/CLUSTER.md): replicas and the leader lease. Present (even `cluster: {}`): cluster mode, the issue watcher, the workflow and the reports run only on the node holding the lease. Absent: a single node',
  );

/** The replicas of every stream and bucket: `cluster.replicas`, 1 without a cluster. */
export function replicasOf(config: { cluster?: { replicas: number } | undefined }): number {
  return config.cluster?.replicas ?? 1;
}

/** How often a node reads (and its holder renews) the lease: three polls to a TTL, so one lost renewal never costs the lease. */
export function leasePollMs(leaseTtlMs: number): number {
  return Math.max(100, Math.floor(leaseTtlMs / 3));
}

/** This node's name in the cluster: `cluster.node`, else the host's name (letters, digits, "-", "_"). */
export function nodeNameOf(cluster: { node?: string | undefined }): string {
  return cluster.node ?? (hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64) || 'node');
}

/** This node's name in cluster mode; undefined for a single node (no `cluster:` section), whose agent ids carry no node. */
export function clusterNodeOf(config: { cluster?: { node?: string | undefined } | undefined }): string | undefined {
  return config.cluster ? nodeNameOf(config.cluster) : undefined;
}
