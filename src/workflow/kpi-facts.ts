/**
 * The facts the KPIs are computed from (src/workflow/kpi-report.ts), as they are kept on the bus
 * (MIYABI_EVENTS, 7 days; docs/BUS.md):
 *
 *   envelope type       subject                     fact
 *   health.report       miyabi.events.health        alive (`intervalMs`, `agents` per role)
 *   task.result         miyabi.events.task.<role>   task (role, issue, status, durationMs)
 *   issue.finished      miyabi.events.issue.<n>     finished (outcome)
 *   kpi.intervention    miyabi.events.kpi           a person stepped in (kind, issue)
 *   kpi.fault           miyabi.events.kpi           a fault noticed (actor, fault)
 *   kpi.recovery        miyabi.events.kpi           that actor's work running again (noticedAt)
 *   kpi.stopped         miyabi.events.kpi           the orchestra asked to stop (reason)
 *
 * Pure. A message stored twice (a runner's result republished after a crash, an event whose
 * duplicate window passed) is one fact: facts with a natural key are kept once.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { z } from 'zod';
import { describeError } from '../errors.ts';
import type { Envelope } from '../infra/bus/envelope.ts';
import { readStreamSince } from '../infra/bus/history.ts';
import { DEFAULT_BUS_TOPOLOGY } from '../infra/bus/topology.ts';
import { computeKpis, INTERVENTIONS, type Intervention, type KpiFact, type KpiReport, type KpiWindow } from './kpi-report.ts';

export const KPI_SUBJECT = 'miyabi.events.kpi';
export const KPI_TYPES = { intervention: 'kpi.intervention', fault: 'kpi.fault', recovery: 'kpi.recovery', stopped: 'kpi.stopped' } as const;

export interface InterventionPayload {
  kind: Intervention;
  issue?: number;
}
export interface FaultPayload {
  actor: string;
  fault: string;
}
export interface RecoveryPayload extends FaultPayload {
  /** ISO time the fault was noticed; the envelope's `ts` is when the work ran again. */
  noticedAt: string;
}
/** Asked to stop (a signal, `stop`, a settled `--once`); a tree that gives up publishes none. */
export interface StoppedPayload {
  reason: string;
}

const time = z.string().refine((text) => Number.isFinite(Date.parse(text)));
const health = z.object({ intervalMs: z.number().positive().optional(), agents: z.record(z.string(), z.number().nonnegative()).optional(), startedAt: time.optional() });
const task = z.object({ taskId: z.string(), attempt: z.number(), issue: z.number(), role: z.string(), status: z.string(), durationMs: z.number().nonnegative() });
const finished = z.object({ number: z.number(), outcome: z.enum(['done', 'failed', 'released']), generation: z.number().optional() });
const intervention = z.object({ kind: z.enum(INTERVENTIONS as [Intervention, ...Intervention[]]), issue: z.number().optional() });
const fault = z.object({ actor: z.string(), fault: z.string() });
const recovery = fault.extend({ noticedAt: time });
const stopped = z.object({ reason: z.string() });

type KpiType = (typeof KPI_TYPES)[keyof typeof KPI_TYPES];

/**
 * Publishes KPI facts on the bus of the moment (it is replaced when it reconnects). In the
 * background: a fact that cannot be published is logged and lost, never in the way of the work.
 */
export function kpiFactPublisher(
  bus: () => { publish(subject: string, type: string, payload: unknown): Promise<unknown> } | undefined,
  logger: Logger,
): (type: KpiType, payload: InterventionPayload | FaultPayload | RecoveryPayload | StoppedPayload) => Promise<void> {
  return async (type, payload) => {
    const current = bus();
    if (!current) return void logger.warn({ type }, 'bus not connected; KPI fact dropped');
    await current.publish(KPI_SUBJECT, type, payload).catch((error: unknown) => logger.warn({ type, err: describeError(error) }, 'KPI fact not published'));
  };
}

/** Health reports published before they carried their interval: the default check interval. */
export const DEFAULT_HEALTH_INTERVAL_MS = 5_000;

/** The fact an envelope holds, with its natural key when it has one; undefined for other messages or bad payloads. */
export function factOf(envelope: Pick<Envelope, 'type' | 'ts' | 'payload'>): { fact: KpiFact; key?: string } | undefined {
  const at = Date.parse(envelope.ts);
  if (!Number.isFinite(at)) return undefined;
  const { payload } = envelope;
  switch (envelope.type) {
    case 'health.report': {
      const parsed = health.safeParse(payload);
      if (!parsed.success) return undefined;
      const { intervalMs, agents, startedAt } = parsed.data;
      const started = startedAt === undefined ? {} : { startedAt: Date.parse(startedAt) };
      return { fact: { kind: 'alive', at, intervalMs: intervalMs ?? DEFAULT_HEALTH_INTERVAL_MS, agents: agents ?? {}, ...started } };
    }
    case 'task.result': {
      const parsed = task.safeParse(payload);
      if (!parsed.success) return undefined;
      const { taskId, attempt, issue, role, status, durationMs } = parsed.data;
      return { fact: { kind: 'task', at, issue, role, status, durationMs }, key: `task:${taskId}:${attempt}` };
    }
    case 'issue.finished': {
      const parsed = finished.safeParse(payload);
      if (!parsed.success) return undefined;
      const { number, outcome, generation } = parsed.data;
      return { fact: { kind: 'finished', at, issue: number, outcome }, ...(generation === undefined ? {} : { key: `finished:${number}:g${generation}:${outcome}` }) };
    }
    case KPI_TYPES.intervention: {
      const parsed = intervention.safeParse(payload);
      if (!parsed.success) return undefined;
      return { fact: { kind: 'intervention', at, intervention: parsed.data.kind, ...(parsed.data.issue === undefined ? {} : { issue: parsed.data.issue }) } };
    }
    case KPI_TYPES.fault: {
      const parsed = fault.safeParse(payload);
      return parsed.success ? { fact: { kind: 'fault', at, ...parsed.data } } : undefined;
    }
    case KPI_TYPES.recovery: {
      const parsed = recovery.safeParse(payload);
      if (!parsed.success) return undefined;
      const { actor, fault: kind, noticedAt } = parsed.data;
      return { fact: { kind: 'recovery', at, actor, fault: kind, noticedAt: Date.parse(noticedAt) } };
    }
    case KPI_TYPES.stopped: {
      const parsed = stopped.safeParse(payload);
      return parsed.success ? { fact: { kind: 'stopped', at } } : undefined;
    }
    default:
      return undefined;
  }
}

/** Collects facts from envelopes in stream order, each keyed fact once. */
export class KpiFacts {
  facts: KpiFact[] = [];
  /** Key → the time of its fact. */
  readonly #keys = new Map<string, number>();

  add(envelope: Pick<Envelope, 'type' | 'ts' | 'payload'>): void {
    const found = factOf(envelope);
    if (!found) return;
    if (found.key !== undefined) {
      if (this.#keys.has(found.key)) return;
      this.#keys.set(found.key, found.fact.at);
    }
    this.facts.push(found.fact);
  }

  /** Forgets the facts (and keys) older than `before`: a rolling window. */
  prune(before: number): void {
    this.facts = this.facts.filter((fact) => fact.at >= before);
    for (const [key, at] of this.#keys) if (at < before) this.#keys.delete(key);
  }
}

/**
 * The KPIs of `window` from the events stream of the orchestra `nc` reaches: what `kpi` prints,
 * and what a run that drives an orchestra (a test, the chaos suite, the soak) reports.
 */
export async function readKpis(nc: NatsConnection, window: KpiWindow, stream = DEFAULT_BUS_TOPOLOGY.streams.events): Promise<{ facts: KpiFact[]; report: KpiReport }> {
  const facts = new KpiFacts();
  await readStreamSince(nc, { stream, since: new Date(window.since) }, (envelope) => facts.add(envelope));
  return { facts: facts.facts, report: computeKpis(facts.facts, window) };
}
