/**
 * A child spec is plain data, as in OTP: what to run, when to restart it, how long it may take to
 * shut down, and whether it is a worker or a supervisor. Defaults and one check per field live
 * here; duplicate ids are refused by the supervisor.
 */
import type { AnyActorLogic, InputFrom } from 'xstate';
import { z } from 'zod';
import { MiyabiError, ErrorCodes } from '../errors.ts';
import type { RestartType } from './restart-policy.ts';

export type Shutdown = number | 'brutal_kill' | 'infinity';

export interface ChildSpec<TLogic extends AnyActorLogic = AnyActorLogic> {
  id: string;
  /** The actor logic to run: a machine, a supervisor (`supervisorLogic`), a process (`processLogic`). */
  logic: TLogic;
  input?: InputFrom<TLogic>;
  /** Default `permanent`. */
  restart?: RestartType;
  /**
   * Milliseconds the child gets to finish after it is sent `supervisor.shutdown` before it is
   * killed; `brutal_kill` kills at once; `infinity` waits (the default for supervisors, so a
   * subtree always stops in order). Default 5000 for workers.
   */
  shutdown?: Shutdown;
  /** Default `supervisor` when `logic` is supervisor logic, else `worker`. */
  type?: 'worker' | 'supervisor';
  /**
   * When the child counts as started, so the next one may start. Default: `defaultIsReady`
   * (a machine is ready unless its state carries the tag `starting`; a runtime actor says so).
   */
  isReady?: (snapshot: any) => boolean;
  /** How long the child may take to become ready before its start counts as failed. */
  startTimeoutMs?: number;
}

export interface NormalizedChildSpec extends ChildSpec {
  restart: RestartType;
  shutdown: Shutdown;
  type: 'worker' | 'supervisor';
  isReady: (snapshot: any) => boolean;
  startTimeoutMs: number;
}

export const DEFAULT_WORKER_SHUTDOWN_MS = 5_000;
export const DEFAULT_START_TIMEOUT_MS = 15_000;

/** Marks logic built by `supervisorLogic`, so a spec's `type` can default correctly. */
export const SUPERVISOR_LOGIC = Symbol.for('miyabi.supervisorLogic');

const childDataSchema = z
  .object({
    id: z.string().min(1),
    restart: z.enum(['permanent', 'transient', 'temporary']).optional(),
    shutdown: z.union([z.number().int().nonnegative(), z.literal('brutal_kill'), z.literal('infinity')]).optional(),
    type: z.enum(['worker', 'supervisor']).optional(),
    startTimeoutMs: z.number().int().positive().optional(),
  })
  .loose();

export function defaultIsReady(snapshot: any): boolean {
  if (!snapshot || snapshot.status !== 'active') return false;
  if (typeof snapshot.hasTag === 'function') return !snapshot.hasTag('starting');
  return snapshot.context?.ready ?? true;
}

export function normalizeChildSpec(spec: ChildSpec): NormalizedChildSpec {
  const parsed = childDataSchema.safeParse(spec);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(spec)'}: ${issue.message}`);
    throw new MiyabiError(ErrorCodes.ChildStartFailed, `invalid child spec ${String(spec?.id)}: ${problems.join('; ')}`);
  }
  if (!spec.logic || typeof spec.logic.transition !== 'function') {
    throw new MiyabiError(ErrorCodes.ChildStartFailed, `invalid child spec ${spec.id}: logic: expected actor logic`);
  }
  const isSupervisor = (spec.logic as unknown as Record<symbol, unknown>)[SUPERVISOR_LOGIC] === true;
  const type = spec.type ?? (isSupervisor ? 'supervisor' : 'worker');
  return {
    ...spec,
    restart: spec.restart ?? 'permanent',
    type,
    shutdown: spec.shutdown ?? (type === 'supervisor' ? 'infinity' : DEFAULT_WORKER_SHUTDOWN_MS),
    isReady: spec.isReady ?? defaultIsReady,
    // A supervisor is ready when all its children are; each of those has its own deadline.
    startTimeoutMs: spec.startTimeoutMs ?? (type === 'supervisor' ? Number.POSITIVE_INFINITY : DEFAULT_START_TIMEOUT_MS),
  };
}
