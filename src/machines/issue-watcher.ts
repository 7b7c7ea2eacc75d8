/**
 * Issue watcher: runs the injected `poll` every `pollIntervalMs` (and at once on `watcher.poll`)
 * and hands its outcome to the injected `polled` action. Which tracker it reads and what it does
 * with the issues are effects supplied from outside (src/workflow/watcher.ts, through
 * src/actors/core.ts); a failed poll is retried next interval, never a crash.
 */
import { assign, fromPromise, setup } from 'xstate';
import { shutdownTransition, stoppedState } from './shutdown.ts';

export interface IssueWatcherInput {
  pollIntervalMs: number;
}

export const issueWatcherMachine = setup({
  types: {
    input: {} as IssueWatcherInput,
    context: {} as IssueWatcherInput & { polls: number; lastError: string | undefined },
  },
  actors: {
    poll: fromPromise<unknown>(async () => undefined),
  },
  actions: {
    polled: (_, _outcome: unknown) => {},
    pollFailed: (_, _error: unknown) => {},
  },
  delays: {
    interval: ({ context }) => context.pollIntervalMs,
  },
}).createMachine({
  id: 'issue-watcher',
  context: ({ input }) => ({ ...input, polls: 0, lastError: undefined }),
  initial: 'polling',
  on: shutdownTransition,
  states: {
    polling: {
      invoke: {
        src: 'poll',
        onDone: {
          target: 'idle',
          actions: [
            assign({ polls: ({ context }) => context.polls + 1, lastError: undefined }),
            { type: 'polled', params: ({ event }: { event: { output: unknown } }) => event.output },
          ],
        },
        // A failed poll is retried next interval: the tracker being down is not a crash.
        onError: {
          target: 'idle',
          actions: [
            assign({ lastError: ({ event }) => String(event.error) }),
            { type: 'pollFailed', params: ({ event }: { event: { error: unknown } }) => event.error },
          ],
        },
      },
    },
    idle: { after: { interval: 'polling' }, on: { 'watcher.poll': 'polling' } },
    ...stoppedState,
  },
});
