/**
 * The workflow's durable state in the NATS KV bucket:
 *
 *   issue.<n>            the issue's record: what we know of the issue, its lifecycle snapshot
 *                        and its outbox (effects decided but not yet known to be done)
 *   dag                  the dependency graph (plain data)
 *   effect.<key>         the ledger: a side effect done (a comment, a pull request; a dispatch's
 *                        is its record written without it in the outbox)
 *   cache.<key>          a stage that succeeded, by idempotency key (issue, stage, content, dependencies)
 *
 * And in the ledger of what happened once (the bus's `once` bucket, whose entries expire after a
 * week: longer than GitHub lets anyone redeliver a webhook delivery), `OnceStore`:
 *
 *   delivery.<id>          a webhook delivery handled (GitHub's X-GitHub-Delivery)
 *   command.<n>.<comment>  a comment command or answer obeyed, by its comment id
 */
import type { KV } from '@nats-io/kv';
import type { StageResult } from '../agents/task.ts';
import { kvKey } from '../infra/bus/kv-key.ts';
import type { DagSnapshot } from '../machines/dag.ts';
import type { IssueRecord } from './record.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();


/** Keys remembered for a while, durably: `has` after `add` until the bucket's entries expire. */
export class OnceStore {
  constructor(private readonly kv: KV) {}

  async has(key: string): Promise<boolean> {
    const entry = await this.kv.get(kvKey(key));
    return entry !== null && entry.operation === 'PUT';
  }

  async add(key: string): Promise<void> {
    await this.kv.put(kvKey(key), encoder.encode(JSON.stringify({ at: new Date().toISOString() })));
  }
}

export class WorkflowStore {
  constructor(private readonly kv: KV) {}

  async records(): Promise<IssueRecord[]> {
    const keys: string[] = [];
    for await (const key of await this.kv.keys('issue.*')) keys.push(key);
    const records = await Promise.all(keys.map((key) => this.#get<IssueRecord>(key)));
    return records.filter((record): record is IssueRecord => record !== undefined).sort((a, b) => a.number - b.number);
  }

  putRecord(record: IssueRecord): Promise<unknown> {
    return this.#put(`issue.${record.number}`, record);
  }

  dag(): Promise<DagSnapshot | undefined> {
    return this.#get<DagSnapshot>('dag');
  }

  putDag(snapshot: DagSnapshot): Promise<unknown> {
    return this.#put('dag', snapshot);
  }

  async hasEffect(key: string): Promise<boolean> {
    return (await this.kv.get(`effect.${kvKey(key)}`)) !== null;
  }

  async effect<T>(key: string): Promise<T | undefined> {
    return this.#get<T>(`effect.${kvKey(key)}`);
  }

  markEffect(key: string, detail: unknown = {}): Promise<unknown> {
    return this.#put(`effect.${kvKey(key)}`, { ...((detail ?? {}) as object), at: new Date().toISOString() });
  }

  cached(key: string): Promise<StageResult | undefined> {
    return this.#get<StageResult>(`cache.${kvKey(key)}`);
  }

  putCache(key: string, result: StageResult): Promise<unknown> {
    return this.#put(`cache.${kvKey(key)}`, result);
  }

  async #get<T>(key: string): Promise<T | undefined> {
    const entry = await this.kv.get(key);
    if (entry === null || entry.operation !== 'PUT' || entry.value.length === 0) return undefined;
    return JSON.parse(decoder.decode(entry.value)) as T;
  }

  #put(key: string, value: unknown): Promise<unknown> {
    return this.kv.put(key, encoder.encode(JSON.stringify(value)));
  }
}
