/**
 * The workflow's durable state in the NATS KV bucket:
 *
 *   issue.<n>            the issue's record: what we know of the issue, its lifecycle snapshot
 *                        and its outbox (effects decided but not yet known to be done)
 *   finished.<n>         a finished issue's summary (./finished.ts), what a restart reads of it
 *                        instead of its record: written after the record it sums up, deleted
 *                        before any later write of it, so it is never older than the record
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
import { forEachConcurrently } from './book.ts';
import { finishedIssueOf, type FinishedIssue } from './finished.ts';
import type { IssueRecord } from './record.ts';

/** Records read at once: all of them at once would outlast the requests' timeout on a loaded host. */
const READS = 256;
/** Summaries written at once at start, for finished records read whole. */
const SUMMARY_WRITES = 64;
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

/** What a start reads: the records of the issues not finished (or not summed up yet), whole; the finished ones' summaries. */
export interface StoredIssues {
  records: IssueRecord[];
  finished: FinishedIssue[];
}

export class WorkflowStore {
  /** Issues whose summary may be in the bucket: the next write of their record deletes it first. */
  readonly #summarized = new Set<number>();
  /** Per issue, its writes in flight that touch a summary: its later writes wait for them, in order. */
  readonly #inOrder = new Map<number, Promise<unknown>>();
  constructor(private readonly kv: KV) {}

  /** Every record, whole (offline readers: `dag`, reports). The workflow starts with `load`. */
  async records(): Promise<IssueRecord[]> {
    const numbers = [...(await this.#numbers('issue.'))];
    return this.#records(numbers);
  }

  /**
   * The workflow's start: the finished issues' summaries, streamed by one watcher, and the other
   * records whole. A finished record without a summary (left by an older version, or by a crash
   * between the two writes) is summed up now, its summary written.
   */
  async load(): Promise<StoredIssues> {
    const numbers = await this.#numbers('issue.');
    const summaries = (await this.#numbers('finished.')).size === 0 ? [] : await this.#summaries();
    for (const summary of summaries) this.#summarized.add(summary.number);
    const finished = summaries.filter((summary) => numbers.has(summary.number));
    const summed = new Set(finished.map((summary) => summary.number));
    const records: IssueRecord[] = [];
    const late: FinishedIssue[] = [];
    for (const record of await this.#records([...numbers].filter((number) => !summed.has(number)))) {
      const summary = finishedIssueOf(record);
      if (summary) late.push(summary);
      else records.push(record);
    }
    await forEachConcurrently(late, SUMMARY_WRITES, (summary) => this.#summarize(summary));
    return { records, finished: [...finished, ...late] };
  }

  /** One record, whole: a finished issue acted on again. */
  async record(number: number): Promise<IssueRecord | undefined> {
    return (await this.#records([number]))[0];
  }

  async #summarize(summary: FinishedIssue): Promise<void> {
    this.#summarized.add(summary.number);
    await this.#inOrderOf(summary.number, () => this.#put(`finished.${summary.number}`, summary));
  }

  /**
   * The record, and its summary when it is finished (after it). An open issue's write, the
   * common one, is one put as ever; one that ends or follows a summary goes in order with the
   * issue's other writes: the summary deleted first, then the record, then the new summary.
   */
  putRecord(record: IssueRecord): Promise<unknown> {
    const { number } = record;
    const value = encoder.encode(JSON.stringify(record));
    const summary = finishedIssueOf(record);
    if (!summary && !this.#summarized.has(number) && !this.#inOrder.has(number)) return this.kv.put(`issue.${number}`, value);
    const stale = this.#summarized.has(number);
    this.#summarized.add(number);
    return this.#inOrderOf(number, async () => {
      if (stale) await this.kv.delete(`finished.${number}`);
      if (!summary) this.#summarized.delete(number);
      const revision = await this.kv.put(`issue.${number}`, value);
      if (summary) await this.#put(`finished.${number}`, summary);
      return revision;
    });
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

  /** Runs `write` after the issue's writes in flight that touch a summary; a failed one leaves the summary to delete again. */
  #inOrderOf<T>(number: number, write: () => Promise<T>): Promise<T> {
    const previous = this.#inOrder.get(number) ?? Promise.resolve();
    const result = previous.then(write, write);
    const settled = result.then(
      () => undefined,
      () => void this.#summarized.add(number),
    );
    this.#inOrder.set(number, settled);
    void settled.then(() => {
      if (this.#inOrder.get(number) === settled) this.#inOrder.delete(number);
    });
    return result;
  }

  async #numbers(prefix: string): Promise<Set<number>> {
    const numbers = new Set<number>();
    for await (const key of await this.kv.keys(`${prefix}*`)) numbers.add(Number(key.slice(prefix.length)));
    return numbers;
  }

  async #records(numbers: readonly number[]): Promise<IssueRecord[]> {
    const records: IssueRecord[] = [];
    await forEachConcurrently(numbers, READS, async (number) => {
      const record = await this.#get<IssueRecord>(`issue.${number}`);
      if (record) records.push(record);
    });
    return records.sort((a, b) => a.number - b.number);
  }

  /** Every summary, latest values only, by one watcher (not a get each): called when there is at least one. */
  async #summaries(): Promise<FinishedIssue[]> {
    const summaries: FinishedIssue[] = [];
    const watch = await this.kv.watch({ key: 'finished.*' });
    for await (const entry of watch) {
      if (entry.operation === 'PUT' && entry.value.length > 0) summaries.push(JSON.parse(decoder.decode(entry.value)) as FinishedIssue);
      if (entry.delta === 0) break;
    }
    watch.stop();
    return summaries;
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
