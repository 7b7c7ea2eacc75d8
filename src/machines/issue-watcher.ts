/**
 * Issue watcher: polls the injected `poll` every `pollIntervalMs` (and at once on `watcher.poll`)
 * and hands what it found to the injected `discovered` action. Which tracker it reads, and what
 * "discovered" does with the issues, are effects supplied from outside (issue sources come with
 * the GitHub and local tracker work).
 */
import { assign, fromPromise, setup } from 'xstate';
import { shutdownTransition, stoppedState } from './shutdown.ts';

export interface WatchedIssue {
  number: number;
  title: string;
  labels: string[];
}

export interface IssueWatcherInput {
  pollIntervalMs: number;
}

export const issueWatcherMachine = setup({
  types: {
    input: {} as IssueWatcherInput,
    context: {} as IssueWatcherInput & { polls: number; lastError: string | undefined },
  },
  actors: {
    poll: fromPromise<WatchedIssue[]>(async () => []),
  },
  actions: {
    discovered: (_, _issues: WatchedIssue[]) => {},
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
            { type: 'discovered', params: ({ event }) => event.output },
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
