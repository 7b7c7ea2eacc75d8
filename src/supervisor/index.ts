/**
 * Supervisor: OTP supervision for XState actors. Knows nothing of agents, GitHub or tmux.
 *
 * Child spec (plain data): `{ id, logic, input?, restart?, shutdown?, type?, isReady?, startTimeoutMs? }`
 * - restart: `permanent` (always restarted), `transient` (only after a crash or kill),
 *   `temporary` (never; removed when it ends);
 * - shutdown: ms to finish after `supervisor.shutdown` before the kill, `brutal_kill`, or `infinity`.
 *
 * Strategies: `one_for_one` (restart the child), `one_for_all` (restart all), `rest_for_one`
 * (restart the child and those started after it), `simple_one_for_one` (a dynamic pool of
 * children added with `startChild`, each restarted alone). Restart budget: `restartIntensity`
 * restarts within `restartPeriodMs`; one more and the supervisor stops its children and fails,
 * escalating to its parent. Optional `backoff: { minMs, maxMs, randomFactor }` between restarts.
 */
export * from './child-spec.ts';
export * from './restart-policy.ts';
export * from './runtime-logic.ts';
export * from './clock.ts';
export * from './supervisor.ts';
export * from './process-actor.ts';
export * from './tree.ts';
