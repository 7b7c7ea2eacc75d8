import { describe, expect, it } from 'vitest';
import {
  checkPaneId,
  checkSessionName,
  cliArgument,
  controlQuote,
  envArguments,
  escapeFormat,
  paneCommand,
  paneTitleText,
} from '../../src/infra/tmux/args.ts';
import { parsePaneLine } from '../../src/infra/tmux/format.ts';
import { decodeWaitStatus } from '../../src/infra/os/process.ts';

describe('tmux arguments', () => {
  it('escapes only a trailing semicolon for the CLI', () => {
    expect(cliArgument('x;')).toBe('x\\;');
    expect(cliArgument(';')).toBe('\\;');
    expect(cliArgument('q\\;')).toBe('q\\\\;');
    expect(cliArgument('a;b')).toBe('a;b');
    expect(cliArgument('')).toBe('');
  });

  it('doubles # for formats, except a run of # before [ which tmux keeps as it is', () => {
    expect(escapeFormat('#{pane_id} #(touch x)')).toBe('##{pane_id} ##(touch x)');
    expect(escapeFormat('a#')).toBe('a##');
    expect(escapeFormat('###')).toBe('######');
    expect(escapeFormat('#[fg=red] ##[x')).toBe('#[fg=red] ##[x');
    expect(escapeFormat('no hash')).toBe('no hash');
  });

  it('turns control characters of a title into spaces', () => {
    expect(paneTitleText('a\nb\tc\u001b]2;x\u0007')).toBe('a b c ]2;x ');
    expect(paneTitleText('カエデ Kaede')).toBe('カエデ Kaede');
  });

  it('never puts the program into a shell string', () => {
    expect(paneCommand(['node', 'x.js'])).toEqual(['node', 'x.js']);
    expect(paneCommand(['/bin/it $(x)'])).toEqual(['/bin/sh', '-c', 'exec "$0"', '/bin/it $(x)']);
    expect(() => paneCommand([])).toThrow(/needs a program/);
  });

  it('passes env as -e NAME=value and refuses names that are not names', () => {
    expect(envArguments({ A: '1', B_2: 'x=y;' })).toEqual(['-e', 'A=1', '-e', 'B_2=x=y;']);
    expect(() => envArguments({ 'A B': '1' })).toThrow(/not an environment variable name/);
  });

  it("single-quotes control-mode arguments and refuses line breaks", () => {
    expect(controlQuote("it's $HOME ~ ; #")).toBe(`'it'\\''s $HOME ~ ; #'`);
    expect(() => controlQuote('a\nb')).toThrow(/line break/);
  });

  it('checks session names and pane ids', () => {
    expect(checkSessionName('miyabi-orchestra')).toBe('miyabi-orchestra');
    for (const bad of ['', 'a:b', 'a.b', 'a b', '=x', 'x'.repeat(65)]) expect(() => checkSessionName(bad)).toThrow();
    expect(checkPaneId('%12')).toBe('%12');
    expect(() => checkPaneId('12')).toThrow();
  });

  it('parses a pane line, title last', () => {
    expect(parsePaneLine('%3\t1\t\t9\t123\t100\t\ttitle\twith tab')).toEqual({
      paneId: '%3',
      dead: true,
      deadStatus: null,
      deadSignal: 9,
      pid: 123,
      serverPid: 100,
      placeholder: false,
      title: 'title\twith tab',
    });
    expect(() => parsePaneLine('%end 1 2 1')).toThrow(/unexpected tmux pane line/);
  });

  it('decodes wait statuses', () => {
    expect(decodeWaitStatus(9)).toEqual({ exitCode: null, signal: 9 });
    expect(decodeWaitStatus(3 << 8)).toEqual({ exitCode: 3, signal: null });
    expect(decodeWaitStatus(0)).toEqual({ exitCode: 0, signal: null });
  });
});
