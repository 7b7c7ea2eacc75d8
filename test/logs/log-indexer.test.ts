/**
 * A running orchestra keeps its log index up to date by itself (src/actors/log-indexer.ts): a
 * line it logs is found in `<dataDir>/logs/index.sqlite` by a search that indexes nothing
 * first (as `logs search` would find it without a rebuild), within `log.index.intervalMs`; the
 * indexer is a supervised child of core; its `logs index` processes end with the orchestra.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogIndex } from '../../src/logs/log-index.ts';
import { startTestOrchestra, type TestOrchestra } from '../support/orchestra.ts';
import { waitFor } from '../support/wait.ts';

let test: TestOrchestra;
beforeAll(async () => {
  test = await startTestOrchestra({ backend: 'process', agents: {}, config: { log: { level: 'info', file: true, index: { intervalMs: 300 } } } });
}, 60_000);
afterAll(async () => {
  await test?.stop();
});

/** Searches the index as it is: no update first. */
function indexedHits(query: string): number {
  const index = LogIndex.open(join(test.dataDir, 'logs'));
  try {
    return index.search({ query }).hits.length;
  } finally {
    index.close();
  }
}

describe('the log indexer', { timeout: 60_000 }, () => {
  it('indexes what the orchestra logs while it runs, without a search having to', async () => {
    expect(test.node('root/core/log-indexer')).toMatchObject({ status: 'running' });
    const marker = `indexmarker${process.pid}x${Date.now()}`;
    expect(indexedHits(marker)).toBe(0);
    test.orchestra.resources.logger.info({ marker }, `a line to find: ${marker}`);
    await waitFor(() => indexedHits(marker) > 0, { timeoutMs: 30_000, what: `the orchestra's own index to hold "${marker}"` });
    // Again later: it goes on indexing, not only once at start.
    const later = `${marker}later`;
    test.orchestra.resources.logger.info({ marker: later }, `another line to find: ${later}`);
    await waitFor(() => indexedHits(later) > 0, { timeoutMs: 30_000, what: `the orchestra's own index to hold "${later}"` });
  });
});
