/**
 * The tracker writers alone (time and the tracker injected): how far behind the real state the
 * tracker's state label is when it lands — counted from the first state it did not show, when
 * labels were skipped on the way — and a failed write's log line, which says when it is retried.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Background } from '../../src/workflow/background.ts';
import type { IssueRecord, WorkflowEffect } from '../../src/workflow/record.ts';
import { TrackerWriters } from '../../src/workflow/tracker-writer.ts';

const label = (name: string, at: number): WorkflowEffect => ({ type: 'setStateLabel', params: { label: name }, at });

function writers(options: { now: () => number; run: (effect: WorkflowEffect) => Promise<void> }) {
  const lags: number[] = [];
  const lines: Array<{ msg: string; retryInMs?: number }> = [];
  const background = new Background();
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const tracker = new TrackerWriters({
    run: (_record, effect) => options.run(effect),
    persist: async () => undefined,
    background,
    logger,
    now: options.now,
    closed: () => false,
    drained: () => undefined,
    onLabelLanded: (seconds) => lags.push(seconds),
  });
  return { tracker, background, lags, lines };
}

const record = (outbox: WorkflowEffect[]): IssueRecord => ({ number: 7, issue: { number: 7, title: 't', body: '', labels: [], author: 'a' }, contentHash: 'h', dependsOn: [], snapshot: {}, outbox, discoveredAt: 0 });

describe('tracker writers', () => {
  it('measure the lag of each state label that lands, from the first state the tracker did not show', async () => {
    let now = 10_000;
    const written: string[] = [];
    const { tracker, background, lags } = writers({ now: () => now, run: async (effect) => void written.push(String(effect.params.label)) });
    // `implementing` (decided at 2 s) is replaced by `reviewing` (at 6 s) before either lands, at 10 s.
    tracker.start(record([label('implementing', 2_000), label('reviewing', 6_000)]));
    await background.settled();
    expect(written).toEqual(['reviewing']);
    expect(lags).toEqual([8]);
    now = 12_500;
    tracker.start(record([label('done', 12_000)]));
    await background.settled();
    expect(lags).toEqual([8, 0.5]);
  });

  it('log a failed write with when it is retried, not "giving up"', async () => {
    const { tracker, background, lines } = writers({ now: () => 0, run: async () => Promise.reject(new Error('GitHub is unavailable')) });
    tracker.start(record([label('done', 0)]));
    await background.settled();
    expect(lines).toMatchObject([{ msg: 'tracker write failed; will retry in 1 s (the work goes on)', retryInMs: 1_000 }]);
  });
});
