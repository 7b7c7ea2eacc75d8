/**
 * Turning data into tmux arguments without letting it become a command, a format or a shell line.
 * Pure functions; each one closes one hole found in tmux 3.3a (Debian's):
 *
 * - **Command argv.** new-session, split-window and respawn-pane run a multi-argument command
 *   with execvp() directly (the pane's parent is the tmux server, no shell), but a command of
 *   one argument goes through `sh -c`. `paneCommand` keeps the program out of any shell string:
 *   a one-element argv runs as `/bin/sh -c 'exec "$0"' <program>`, where the shell sees the
 *   program only as `$0`, never as text to parse.
 * - **Trailing semicolons.** tmux's CLI splits commands on any argument that ends in `;`, even
 *   after `--` (`tmux neww -- prog 'x;' kill-server` runs kill-server). `cliArgument` escapes the
 *   last `;` as `\;`, which tmux turns back into `;`.
 * - **Formats.** select-pane -T and -c start-directory are format-expanded: `#{pane_id}` would
 *   be replaced and `#(cmd)` would run cmd. `escapeFormat` doubles every `#` except a run of
 *   `#` before `[`, which tmux leaves as it is; the value stored is exactly the text given.
 * - **Titles.** tmux silently ignores a title holding a control character (newline, tab, ESC);
 *   `paneTitleText` turns each into a space so the rest is still shown.
 * - **Control-mode lines.** A control client parses each line with the config syntax (`$VAR`,
 *   `~`, `#` comments, `;`), and a newline ends the command. `controlQuote` single-quotes every
 *   argument and refuses line breaks.
 */
import { ErrorCodes, MiyabiError } from '../../errors.ts';

const sessionNamePattern = /^[A-Za-z0-9_-]{1,64}$/;
const paneIdPattern = /^%\d+$/;
const envNamePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

function invalid(message: string): MiyabiError {
  return new MiyabiError(ErrorCodes.InvalidArgument, message);
}

/** Session names are plain: letters, digits, `_` and `-` (tmux rewrites `.` and `:`). */
export function checkSessionName(name: string): string {
  if (!sessionNamePattern.test(name)) {
    throw invalid(`tmux session name ${JSON.stringify(name)} must be 1-64 letters, digits, '_' or '-'`);
  }
  return name;
}

/** Pane ids as tmux prints them: `%12`. */
export function checkPaneId(paneId: string): string {
  if (!paneIdPattern.test(paneId)) throw invalid(`${JSON.stringify(paneId)} is not a tmux pane id (%N)`);
  return paneId;
}

/** One argument of a tmux CLI command: a trailing `;` escaped so it stays an argument. */
export function cliArgument(arg: string): string {
  return arg.endsWith(';') ? `${arg.slice(0, -1)}\\;` : arg;
}

/** Text that a format-expanding option (`-T`, `-c`) stores exactly as given. */
export function escapeFormat(text: string): string {
  return text.replace(/#+/g, (run, offset: number) => (text[offset + run.length] === '[' ? run : run + run));
}

/** A pane title: control characters (which make tmux drop the title) become spaces. */
export function paneTitleText(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
}

/** The shell-command arguments for a pane running `argv`: never a shell string built from data. */
export function paneCommand(argv: readonly string[]): string[] {
  const [program, ...rest] = argv;
  if (program === undefined || program === '') throw invalid('a pane command needs a program (argv[0])');
  if (rest.length > 0) return [program, ...rest];
  return ['/bin/sh', '-c', 'exec "$0"', program];
}

/** `-e NAME=value` pairs; names must be plain environment variable names. */
export function envArguments(env: Readonly<Record<string, string>> = {}): string[] {
  return Object.entries(env).flatMap(([name, value]) => {
    if (!envNamePattern.test(name)) throw invalid(`${JSON.stringify(name)} is not an environment variable name`);
    return ['-e', `${name}=${value}`];
  });
}

/** One argument of a control-mode command line, in tmux's own single quotes. */
export function controlQuote(arg: string): string {
  if (/[\r\n]/.test(arg)) throw invalid('a tmux control-mode argument cannot hold a line break');
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}
