/**
 * The log index (src/logs) over a data directory's worth of logs (bench/log-corpus.ts): the time
 * to write the logs and to index them from nothing, the index's size, then the time of searches
 * of several kinds (median and p99 of `runs` each), and of the update the CLI makes before each
 * search when nothing changed or a little was appended.
 *
 * Size: `MIYABI_BENCH_LOG_MB` (default 256). Indexing runs at about 2 MiB/s on a shared 2-CPU
 * machine, so the full 1 GB the issue asks about (`MIYABI_BENCH_LOG_MB=1024 npm run bench -- logs`)
 * takes some fifteen minutes with writing the logs (9 of indexing); search times depend on the
 * number of matches ranked, not on the size.
 */
import { appendFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogIndex, type LogSearch } from '../src/logs/log-index.ts';
import { indexPath } from '../src/logs/store.ts';
import { writeCorpus } from './log-corpus.ts';
import type { BenchRow } from './types.ts';

const runs = 30;
const warmups = 3;

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)]!;
}

function measure(run: () => void): { median: number; p99: number } {
  for (let n = 0; n < warmups; n += 1) run();
  const times: number[] = [];
  for (let n = 0; n < runs; n += 1) {
    const begin = performance.now();
    run();
    times.push(performance.now() - begin);
  }
  times.sort((a, b) => a - b);
  return { median: percentile(times, 0.5), p99: percentile(times, 0.99) };
}

export async function benchLogs(): Promise<BenchRow[]> {
  const megabytes = Number(process.env.MIYABI_BENCH_LOG_MB ?? 256);
  const logsDir = mkdtempSync(join(tmpdir(), 'miyabi-bench-logs-'));
  try {
    let begin = performance.now();
    const corpus = writeCorpus(logsDir, megabytes * 2 ** 20);
    const writeMs = performance.now() - begin;
    const size = `${(corpus.bytes / 2 ** 20).toFixed(0)} MiB`;
    process.stderr.write(`logs: wrote ${size} (${corpus.lines} lines) in ${(writeMs / 1000).toFixed(1)} s; indexing…\n`);
    const index = LogIndex.open(logsDir);
    begin = performance.now();
    const first = index.update();
    const indexMs = performance.now() - begin;
    const indexBytes = statSync(indexPath(logsDir)).size;
    const hour = 3_600_000;
    const searches: Array<[string, LogSearch]> = [
      ['a common word', { query: 'merge' }],
      ['a phrase', { query: '"pull request created"' }],
      ['a task id (rare)', { query: '"issue-1234.g1.codegen.r0.a1"' }],
      ['a prefix', { query: 'conflict*' }],
      ['OR of two words', { query: 'timeout OR retries' }],
      ['a word, --issue', { query: 'failed', issue: 77 }],
      ['a word, --agent', { query: 'vitest', agent: 'codegen-3' }],
      ['a word, --since 1h', { query: 'dispatched', since: corpus.end - hour }],
      ['no query, --issue', { query: '', issue: 42 }],
    ];
    const rows: BenchRow[] = [
      { name: `write ${size} of logs`, value: writeMs / 1000, unit: 's', note: `${corpus.lines} lines, ${corpus.issues} issues, ${first.files} files` },
      { name: `index ${size} from nothing`, value: indexMs / 1000, unit: 's', note: `${(corpus.bytes / 2 ** 20 / (indexMs / 1000)).toFixed(1)} MiB/s` },
      { name: 'index file size', value: indexBytes / 2 ** 20, unit: 'MiB', note: `${((indexBytes / corpus.bytes) * 100).toFixed(0)}% of the logs (no text kept)` },
    ];
    for (const [name, search] of searches) {
      let ranked = 0;
      const time = measure(() => {
        ranked = index.search(search).ranked;
      });
      rows.push({ name: `search ${size}: ${name}, median`, value: time.median, unit: 'ms', note: `${ranked} matches ranked; p99 ${time.p99.toFixed(1)} ms` });
    }
    const idle = measure(() => index.update());
    rows.push({ name: 'update before a search, nothing new', value: idle.median, unit: 'ms', note: `p99 ${idle.p99.toFixed(1)} ms; stats every log file` });
    const appended = measure(() => {
      appendFileSync(join(logsDir, 'orchestra.log'), `${JSON.stringify({ level: 'info', time: new Date().toISOString(), actorId: 'bench', msg: 'appended line' })}\n`.repeat(100));
      index.update();
    });
    rows.push({ name: 'update after 100 lines appended', value: appended.median, unit: 'ms', note: `p99 ${appended.p99.toFixed(1)} ms` });
    index.close();
    return rows;
  } finally {
    rmSync(logsDir, { recursive: true, force: true });
  }
}
