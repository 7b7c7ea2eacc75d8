/** What every view of the console is given, and gives back (./main.ts chooses the view). */
import type { MachinesReply } from './api.ts';
import type { Live } from './live.ts';

export interface ViewContext {
  live: Live;
  machines: Promise<MachinesReply>;
  /** What follows the view's name in the hash (`agent-pane` of `#machines/agent-pane`). */
  argument: string | undefined;
  navigate(hash: string): void;
}

/** A view draws into its element and returns what stops it (listeners, timers). */
export type View = (root: HTMLElement, context: ViewContext) => () => void;
