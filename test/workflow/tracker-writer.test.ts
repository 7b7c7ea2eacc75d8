/**
 * The tracker writers alone (time and the tracker injected): what they write when the issue has
 * moved on while its writes waited (the last state label only, no start comment once the work
 * finished, every final comment), the issues taking turns, how far behind the real state the
 * tracker's state label is when it lands — counted from the first state it did not show, when
 * labels were skipped on the way — and a failed write's log line, which says when it is retried.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Background } from '../../src/workflow/background.ts';
import type { IssueRecord, WorkflowEffect } from '../../src/workflow/record.ts';
import { TrackerWriters } from '../../src/workflow/tracker-writer.ts';
import { deferred, waitFor } from '../support/wait.ts';

const label = (name: string, at: number): WorkflowEffect => ({ type: 'setStateLabel', params: { label: name }, at });
const comment = (kind: string): WorkflowEffect => ({ type: 'comment', params: { kind, key: `issue-7.g1.${kind}` }, at: 0 });
const written = (effect: WorkflowEffect) => (effect.type === 'setStateLabel' ? `label ${String(effect.params.label)}` : String(effect.params.kind));

function writers(options: { now: () => number; run: (effect: WorkflowEffect, issue: number) => Promise<void> }) {
  const lags: number[] = [];
  const persisted: string[][] = [];
  const lines: Array<{ msg: string; retryInMs?: number }> = [];
  const background = new Background();
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const tracker = new TrackerWriters({
    run: (record, effect) => options.run(effect, record.number),
    persist: async (record) => void persisted.push(record.outbox.map(written)),
    background,
    logger,
    now: options.now,
    closed: () => false,
    drained: () => undefined,
    onLabelLanded: (seconds) => lags.push(seconds),
  });
  return { tracker, background, lags, lines, persisted };
}

/** Writers whose tracker holds #1's writes until `held` resolves; `sent` says what was sent, in order. */
function holdingIssueOne() {
  const sent: string[] = [];
  const held = deferred();
  const run = async (effect: WorkflowEffect, issue: number) => {
    sent.push(`#${issue} ${written(effect)}`);
    if (issue === 1) await held.promise;
  };
  return { ...writers({ now: () => 0, run }), sent, held };
}

const record = (outbox: WorkflowEffect[], number = 7): IssueRecord => ({ number, issue: { number, title: 't', body: '', labels: [], author: 'a' }, contentHash: 'h', dependsOn: [], snapshot: {}, outbox, discoveredAt: 0 });

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

  it('send the last state label and no start comment once the work finished; what they skip leaves the persisted outbox', async () => {
    const sent: string[] = [];
    const { tracker, background, persisted } = writers({ now: () => 0, run: async (effect) => void sent.push(written(effect)) });
    const issue = record([label('implementing', 0), comment('started'), label('reviewing', 0), label('done', 0), comment('done')]);
    tracker.start(issue);
    await background.settled();
    expect(sent.sort()).toEqual(['done', 'label done']);
    // Skipped before anything was sent: a restart from the outbox as persisted then sends only the rest.
    expect(persisted[1]).toEqual(['label done', 'done']);
    expect(issue.outbox).toEqual([]);
  });

  it('post a start comment while the work goes on, and every final comment', async () => {
    const sent: string[] = [];
    const { tracker, background } = writers({ now: () => 0, run: async (effect) => void sent.push(written(effect)) });
    tracker.start(record([label('implementing', 0), comment('started'), label('pending', 0), comment('changes_requested')]));
    await background.settled();
    // `implementing` is replaced by `pending`; the review asked for changes, the work is not over.
    expect(sent.filter((line) => line.startsWith('label'))).toEqual(['label pending']);
    expect(sent.filter((line) => !line.startsWith('label'))).toEqual(['started', 'changes_requested']);
    sent.length = 0;
    tracker.start(record([comment('started'), label('failed', 0), comment('failed')], 8));
    await background.settled();
    expect(sent.sort()).toEqual(['failed', 'label failed']);
  });

  it('take turns, one label and one comment at a time, and decide what to write when the turn comes', async () => {
    const { tracker, background, sent, held } = holdingIssueOne();
    tracker.start(record([label('implementing', 0), comment('started')], 1));
    const other = record([label('implementing', 0), comment('started')], 2);
    tracker.start(other);
    await waitFor(() => sent.length === 2);
    expect(sent.sort()).toEqual(['#1 label implementing', '#1 started']);
    // While #1's writes are under way, #2 waits for both turns, and its work finishes meanwhile.
    other.outbox.push(label('done', 0), comment('done'));
    held.resolve();
    await background.settled();
    expect(sent.slice(2).sort()).toEqual(['#2 done', '#2 label done']);
  });

  it('take turns round robin: an issue with many comments waiting lets the others post between its own', async () => {
    const sent: string[] = [];
    const { tracker, background } = writers({ now: () => 0, run: async (effect, issue) => void sent.push(`#${issue} ${written(effect)}`) });
    tracker.start(record([comment('changes_requested'), comment('ci_failed'), comment('conflict')], 1));
    tracker.start(record([comment('done')], 2));
    tracker.start(record([comment('failed')], 3));
    await background.settled();
    expect(sent).toEqual(['#1 changes_requested', '#2 done', '#3 failed', '#1 ci_failed', '#1 conflict']);
  });

  it('give a final state label the next turn, ahead of the labels that asked before it', async () => {
    const { tracker, background, sent, held } = holdingIssueOne();
    tracker.start(record([label('implementing', 0)], 1));
    tracker.start(record([label('implementing', 0)], 2));
    tracker.start(record([label('done', 0)], 3));
    await waitFor(() => sent.length === 1);
    held.resolve();
    await background.settled();
    expect(sent).toEqual(['#1 label implementing', '#3 label done', '#2 label implementing']);
  });

  it('log a failed write with when it is retried, not "giving up"', async () => {
    const { tracker, background, lines } = writers({ now: () => 0, run: async () => Promise.reject(new Error('GitHub is unavailable')) });
    tracker.start(record([label('done', 0)]));
    await background.settled();
    expect(lines).toMatchObject([{ msg: 'tracker write failed; will retry in 1 s (the work goes on)', retryInMs: 1_000 }]);
  });
});
