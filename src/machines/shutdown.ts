/**
 * Every supervised machine ends on `supervisor.shutdown` by reaching its final state `stopped`;
 * this is the one transition they all share.
 */
export const shutdownTransition = { 'supervisor.shutdown': '.stopped' } as const;
export const stoppedState = { stopped: { type: 'final' as const } };
