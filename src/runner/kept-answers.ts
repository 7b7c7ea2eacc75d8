/**
 * Each task's kept answer where every node sees it: the KV bucket `miyabi-answers`
 * (src/infra/bus/topology.ts), key `<role>.<taskId>`. In a cluster the runners of every node pull
 * one role's tasks from one consumer, so a task delivered again (an ack lost with a dead server or
 * runner, the ack wait passed under load, a task dispatched again by a new leader) may come to
 * another node than the one whose agent answered it; that node's data directory knows nothing of
 * the answer (./finished-task.ts), the bucket does. A runner checks it before it runs a task, and
 * publishes the answer it finds instead of running the agent.
 *
 * The key is the task id, which names the workflow's dispatch (its stage, round and retry: a new
 * dispatch is a new id), not the runner's attempt: whichever delivery of a dispatch answered, no
 * later delivery of it runs again. The first answer written stays (a write expects no entry):
 * should two runs ever answer one task, both publish the first. The role is the first token so
 * that a runner may write its own role's answers only (src/orchestra/nats-auth.ts).
 *
 * Reads ask the stream's leader (`STREAM.MSG.GET`, no direct get): a replica behind it could say
 * "no answer" for one written a moment ago. A read or a write the store does not answer throws:
 * a task whose answer cannot be known is not run (its delivery is nak'd and comes again).
 */
import { JetStreamApiError, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { kvKey } from '../infra/bus/kv-key.ts';
import type { BusTopology } from '../infra/bus/topology.ts';
import { taskResultSchema, type TaskResult } from './task-message.ts';

/** JetStream's "no message found" (a key never written, or aged out). */
const NO_MESSAGE = 10037;
/** JetStream's "wrong last sequence": the key was written before this write. */
const WRONG_LAST_SEQUENCE = 10071;
/** A leader's answer takes milliseconds; the caller retries a timeout. */
const REQUEST_TIMEOUT_MS = 2_000;

/** `<role>.<taskId>`, the task id made a valid key (its dots stay: they are tokens of the subject). */
export function answerKey(role: string, taskId: string): string {
  return `${role}.${kvKey(taskId)}`;
}

export interface KeptAnswers {
  /** The answer kept for the task, or undefined when none is; throws when the store does not answer. */
  kept(taskId: string): Promise<TaskResult | undefined>;
  /** Keeps `result` as the task's answer unless one is kept already; resolves with the one that stays. */
  keep(result: TaskResult): Promise<TaskResult>;
}

export function keptAnswers(nc: NatsConnection, topology: Pick<BusTopology, 'answersBucket'>, role: string): KeptAnswers {
  const stream = `KV_${topology.answersBucket}`;
  const subjectOf = (taskId: string) => `$KV.${topology.answersBucket}.${answerKey(role, taskId)}`;
  const js = jetstream(nc, { timeout: REQUEST_TIMEOUT_MS });
  let manager: Promise<JetStreamManager> | undefined;

  const kept = async (taskId: string): Promise<TaskResult | undefined> => {
    const jsm = await (manager ??= jetstreamManager(nc, { timeout: REQUEST_TIMEOUT_MS, checkAPI: false }).catch((error: unknown) => {
      manager = undefined;
      throw error;
    }));
    let message;
    try {
      message = await jsm.streams.getMessage(stream, { last_by_subj: subjectOf(taskId) });
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === NO_MESSAGE) return undefined;
      throw error;
    }
    if (message === null) return undefined;
    if ((message.header?.get('KV-Operation') || 'PUT') !== 'PUT') return undefined;
    // What a runner of this role wrote; one that does not read as an answer of this task is none.
    const parsed = taskResultSchema.safeParse(safeJson(message.string()));
    return parsed.success && parsed.data.taskId === taskId ? parsed.data : undefined;
  };

  const keep = async (result: TaskResult): Promise<TaskResult> => {
    try {
      await js.publish(subjectOf(result.taskId), JSON.stringify(result), { expect: { lastSubjectSequence: 0 } });
      return result;
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === WRONG_LAST_SEQUENCE)) throw error;
      return (await kept(result.taskId)) ?? result;
    }
  };

  return { kept, keep };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
