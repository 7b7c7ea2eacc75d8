/**
 * The formats we give tmux for panes, and the reading of its answers. tmux prints what a format
 * asks for; these are fixed strings (no data in them), and the title, the only free text, comes
 * last on its line.
 */
import { ErrorCodes, MiyabiError } from '../../errors.ts';

export interface PaneInfo {
  paneId: string;
  /** The pane's process (after its death: the process that died). */
  pid: number;
  dead: boolean;
  /** Exit code of a dead pane's process; null while alive, after a signal, or unknown to tmux. */
  deadStatus: number | null;
  /** Signal that ended a dead pane's process; null otherwise. */
  deadSignal: number | null;
  title: string;
  /** The tmux server's pid (the parent of every pane process). */
  serverPid: number;
  /** The idle pane a session keeps until the first spawnPane (and after the last killPane). */
  placeholder: boolean;
}

/** The pane option that marks a session's idle pane. */
export const PLACEHOLDER = '@miyabi-placeholder';
/** What a pane query asks for, one line per pane; read back by parsePaneLine. */
export const PANE_FORMAT = [
  '#{pane_id}',
  '#{pane_dead}',
  '#{pane_dead_status}',
  '#{pane_dead_signal}',
  '#{pane_pid}',
  '#{pid}',
  `#{${PLACEHOLDER}}`,
  '#{pane_title}',
].join('\t');
/**
 * The border line above each pane: its title with every `#` escaped (`q/h`), so a title is
 * drawn as text and never as a style, and for a dead pane how it ended (`[exited 3]`,
 * `[exited signal 9]`).
 */
export const PANE_BORDER_FORMAT =
  ' #{q/h:pane_title}#{?pane_dead, [exited#{?pane_dead_status, #{pane_dead_status},}#{?pane_dead_signal, signal #{pane_dead_signal},}],} ';

function optionalNumber(text: string | undefined): number | null {
  return text === undefined || text === '' ? null : Number(text);
}

/** One line of PANE_FORMAT. The title is last: it is the only field that may hold a tab. */
export function parsePaneLine(line: string): PaneInfo {
  const [paneId, dead, status, signal, pid, serverPid, placeholder, ...title] = line.split('\t');
  if (paneId === undefined || !/^%\d+$/.test(paneId) || pid === undefined) {
    throw new MiyabiError(ErrorCodes.TmuxCommandFailed, `unexpected tmux pane line ${JSON.stringify(line)}`);
  }
  return {
    paneId,
    pid: Number(pid),
    dead: dead === '1',
    deadStatus: optionalNumber(status),
    deadSignal: optionalNumber(signal),
    title: title.join('\t'),
    serverPid: Number(serverPid),
    placeholder: placeholder === '1',
  };
}

/** True for tmux's "that target does not exist" answers (and for no server at all). */
export function isMissingTarget(error: unknown): boolean {
  return (
    error instanceof MiyabiError &&
    /can't find (pane|session|window)|no server running|error connecting to|session not found/.test(error.message)
  );
}
