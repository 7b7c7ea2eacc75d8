/**
 * Reads every node's heartbeat from the members bucket (src/cluster/members.ts). The keys come
 * from the stream's own count per subject, not from `kv.keys()`: that lists through a consumer
 * which, while heartbeats are rewritten as it reads (every node writes every lease poll), may end
 * before it has seen every key, and a node would be missing from `status` for no reason.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { parseNodeRecord, type NodeRecord } from './members.ts';

export async function readNodeRecords(nc: NatsConnection, nodes: KV, bucket: string): Promise<Map<string, NodeRecord>> {
  const jsm = await jetstreamManager(nc);
  const prefix = `$KV.${bucket}.`;
  const info = await jsm.streams.info(`KV_${bucket}`, { subjects_filter: `${prefix}node.>` });
  const records = new Map<string, NodeRecord>();
  for (const subject of Object.keys(info.state.subjects ?? {})) {
    const entry = await nodes.get(subject.slice(prefix.length));
    if (entry === null || entry.operation !== 'PUT') continue;
    let value: unknown;
    try {
      value = entry.json();
    } catch {
      continue;
    }
    const record = parseNodeRecord(value);
    if (record) records.set(record.node, record);
  }
  return records;
}
