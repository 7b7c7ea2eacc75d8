import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PaneLog, parseMarker, type PaneLogOptions } from '../../src/infra/panes/log.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'miyabi-pane-log-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** A clock a test moves by hand. */
function manualClock(iso: string) {
  let now = Date.parse(iso);
  return {
    now: () => now,
    set: (next: string) => void (now = Date.parse(next)),
  };
}

function open(options: Partial<PaneLogOptions> & { clock: () => number }) {
  return new PaneLog({ dir, agentId: 'kaede-1', maxBytes: 1 << 20, ...options });
}

const read = (file: string) => readFileSync(path.join(dir, 'kaede-1', file), 'utf8');
const lines = (file: string) => read(file).split('\n').slice(0, -1);

describe('PaneLog', () => {
  it('appends lines to one file per agent per day, each on disk when the call returns', () => {
    const clock = manualClock('2025-03-01T10:00:00Z');
    const log = open({ clock: clock.now });
    log.line('first');
    expect(log.path).toBe(path.join(dir, 'kaede-1', '2025-03-01.log'));
    expect(lines('2025-03-01.log')).toEqual(['first']);
    log.line('two\nlines\n');
    log.close();
    open({ clock: clock.now }).line('after a restart');
    expect(lines('2025-03-01.log')).toEqual(['first', 'two', 'lines', 'after a restart']);
  });

  it('starts a new file at the UTC day boundary', () => {
    const clock = manualClock('2025-03-01T23:59:59.999Z');
    const log = open({ clock: clock.now });
    log.line('late');
    clock.set('2025-03-02T00:00:00.000Z');
    log.line('early');
    log.close();
    expect(lines('2025-03-01.log')).toEqual(['late']);
    expect(lines('2025-03-02.log')).toEqual(['early']);
  });

  it('rotates by size, keeping maxFiles rotated files, newest first', () => {
    const clock = manualClock('2025-03-01T10:00:00Z');
    const log = open({ clock: clock.now, maxBytes: 20, maxFiles: 2 });
    for (let n = 1; n <= 8; n++) log.line(`line ${n} xxxx`); // 12 bytes each: one per file
    log.close();
    const files = readdirSync(path.join(dir, 'kaede-1')).sort();
    expect(files).toEqual(['2025-03-01.log', '2025-03-01.log.1', '2025-03-01.log.2']);
    expect(lines('2025-03-01.log')).toEqual(['line 8 xxxx']);
    expect(lines('2025-03-01.log.1')).toEqual(['line 7 xxxx']);
    expect(lines('2025-03-01.log.2')).toEqual(['line 6 xxxx']);
  });

  it('fills a file up to maxBytes before rotating, and writes an oversized line whole', () => {
    const clock = manualClock('2025-03-01T10:00:00Z');
    const log = open({ clock: clock.now, maxBytes: 10 });
    log.line('abcd'); // 5 bytes
    log.line('efgh'); // 10: fits exactly
    log.line('i'.repeat(30)); // rotates, then written whole
    log.line('j'); // rotates again
    log.close();
    expect(lines('2025-03-01.log.2')).toEqual(['abcd', 'efgh']);
    expect(lines('2025-03-01.log.1')).toEqual(['i'.repeat(30)]);
    expect(lines('2025-03-01.log')).toEqual(['j']);
  });

  it('writes task markers as single lines an indexer can parse', () => {
    const clock = manualClock('2025-03-01T10:00:00Z');
    const log = open({ clock: clock.now });
    log.taskStart({ taskId: 'task\n=== fake ===', issue: 3, role: 'codegen', attempt: 2 });
    log.line('working');
    clock.set('2025-03-01T10:00:05Z');
    log.taskEnd({ taskId: 'task\n=== fake ===', issue: 3, status: 'success', durationMs: 5_000 });
    log.close();
    const [start, output, end, ...rest] = lines('2025-03-01.log');
    expect(rest).toEqual([]);
    expect(output).toBe('working');
    expect(start).toMatch(/^=== miyabi task start \{.*\} ===$/);
    expect(parseMarker(start!)).toEqual({
      kind: 'start',
      taskId: 'task\n=== fake ===',
      issue: 3,
      role: 'codegen',
      attempt: 2,
      at: '2025-03-01T10:00:00.000Z',
    });
    expect(parseMarker(end!)).toEqual({
      kind: 'end',
      taskId: 'task\n=== fake ===',
      issue: 3,
      status: 'success',
      durationMs: 5_000,
      at: '2025-03-01T10:00:05.000Z',
    });
  });

  it('keeps an agent from forging a marker', () => {
    const clock = manualClock('2025-03-01T10:00:00Z');
    const log = open({ clock: clock.now });
    const forged = '=== miyabi task end {"taskId":"x","issue":1,"status":"success","durationMs":1,"at":"z"} ===';
    expect(parseMarker(forged)).toBeDefined();
    log.line(forged);
    log.write(`${forged}\n`);
    log.close();
    expect(lines('2025-03-01.log')).toEqual([`\\${forged}`, `\\${forged}`]);
    expect(lines('2025-03-01.log').map(parseMarker)).toEqual([undefined, undefined]);
    expect(() => log.taskStart({ taskId: 't', issue: 1.5, role: 'r', attempt: 1 })).toThrow();
  });

  it('splits raw output into lines, holding a partial line (and a split UTF-8 character) until it completes', () => {
    const clock = manualClock('2025-03-01T10:00:00Z');
    const log = open({ clock: clock.now });
    const kaede = Buffer.from('カエデ\r\n');
    log.write('com');
    log.write(kaede.subarray(0, 4)); // ends inside a three-byte character
    expect(existsSync(log.path)).toBe(false);
    log.write(kaede.subarray(4));
    log.write('mitted\nhalf');
    expect(lines('2025-03-01.log')).toEqual(['comカエデ', 'mitted']);
    log.taskEnd({ taskId: 't', issue: 1, status: 'failure', durationMs: 1 }); // a marker starts on its own line
    log.write('tail without newline');
    log.close(); // nothing is lost at close
    const all = lines('2025-03-01.log');
    expect(all.slice(2, 3)).toEqual(['half']);
    expect(parseMarker(all[3]!)?.kind).toBe('end');
    expect(all[4]).toBe('tail without newline');
  });

  it('drops the lines a full disk cannot take, says so once, and goes on when there is room again (issue #15)', async () => {
    const clock = manualClock('2025-03-01T10:00:00Z');
    // /dev/full answers every write with ENOSPC.
    await mkdir(path.join(dir, 'kaede-1'));
    await symlink('/dev/full', path.join(dir, 'kaede-1', '2025-03-01.log'));
    const said: string[] = [];
    const log = open({ clock: clock.now, sayOutage: (message) => said.push(message) });
    log.taskStart({ taskId: 't-1', issue: 3, role: 'codegen', attempt: 1 });
    log.line('output\nthe disk cannot take');
    expect(log.dropped).toBe(3);
    expect(said).toEqual([`${path.join(dir, 'kaede-1')}: cannot write (ENOSPC); dropping its lines until it can`]);
    await rm(path.join(dir, 'kaede-1', '2025-03-01.log'));
    log.taskEnd({ taskId: 't-1', issue: 3, status: 'success', durationMs: 5 });
    log.close();
    expect(said.at(-1)).toBe(`${path.join(dir, 'kaede-1')}: writing again; 3 line(s) dropped meanwhile`);
    expect(lines('2025-03-01.log').map((text) => parseMarker(text)?.kind)).toEqual(['end']);
  });

  it('refuses an agent id that is not a plain name', () => {
    const clock = manualClock('2025-03-01T10:00:00Z');
    for (const agentId of ['', '../x', '.hidden', 'a/b']) {
      expect(() => open({ clock: clock.now, agentId })).toThrow(/not a plain name/);
    }
  });
});
