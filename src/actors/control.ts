/**
 * Control: answers the CLI over NATS request/reply. `status` returns the supervisor tree,
 * `stop` asks the orchestra to stop gracefully, `restart` restarts one agent (a fresh actor and
 * runner, through its pool: counted as its restart) for an operator who found it wedged — a
 * person stepping in, so `miyabi_human_interventions_total{kind="manual_restart"}` counts it;
 * `budget.resume` lifts the daily budget's hold until the next budget day (docs/BUDGETS.md). On a
 * cluster every node hears every request: a restart is answered only by the node the agent id
 * names, a stop only by the node it names (`{ "node" }`, which `stop` sends from its config; a stop
 * naming no node stops every node that hears it). Core NATS (not JetStream): a request to a
 * stopped orchestra should fail fast with "no responders", not wait in a stream.
 *
 * Fault injection, for chaos and crash tests only: when the orchestra was started with
 * `MIYABI_FAULT_INJECTION=1` in its environment, `miyabi.control.fault` with
 * `{ "kill": "core/workflow/dag" }` kills that actor (`stop()`, which its supervisor sees as an
 * abnormal exit and handles by its strategy). Without the variable nobody answers the subject.
 */
import type { Subscription } from '@nats-io/transport-node';
import { clusterNodeOf, nodeNameOf } from '../config/sections/cluster.ts';
import { describeError } from '../errors.ts';
import { actorLogger } from '../infra/observe/logger.ts';
import { fromRuntime, type ChildSpec } from '../supervisor/index.ts';
import { CONTROL_SUBJECTS, type BudgetReply, type NodeStatus, type RestartReply, type StatusReply } from './control-subjects.ts';
import type { OrchestraResources } from './resources.ts';

export { CONTROL_SUBJECTS, type RestartReply, type StatusReply } from './control-subjects.ts';

/** What `status --json` shows, and the console's /api/tree. */
export function statusReply(resources: OrchestraResources): StatusReply {
  return {
    pid: process.pid,
    startedAt: resources.startedAt.toISOString(),
    uptimeMs: Date.now() - resources.startedAt.getTime(),
    natsUrl: resources.natsServers[0]!,
    httpUrl: resources.httpUrl,
    tree: resources.inspect(),
    ...(resources.budget ? { budget: resources.budget.status() } : {}),
    ...(resources.config.cluster ? { cluster: nodeStatus(resources, resources.config.cluster) } : {}),
  };
}

function nodeStatus(resources: OrchestraResources, cluster: { node?: string | undefined }): NodeStatus {
  const { clusterRefusal: refusal, leaderEpoch: epoch, leaderSince } = resources;
  return {
    node: nodeNameOf(cluster),
    role: refusal ? 'refused' : epoch !== undefined ? 'leader' : 'follower',
    ...(epoch !== undefined ? { epoch } : {}),
    ...(leaderSince !== undefined ? { leaderSince: new Date(leaderSince).toISOString() } : {}),
    ...(refusal ? { refusal } : {}),
  };
}

export const controlLogic = fromRuntime<{ resources: OrchestraResources }>(({ resources }, controls) => {
  const logger = actorLogger(resources.logger, 'control');
  const nc = resources.nc;
  if (!nc) throw new Error('control started without a NATS connection');
  const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  const subscriptions: Subscription[] = [
    nc.subscribe(CONTROL_SUBJECTS.status, {
      callback: (error, message) => {
        if (error) return logger.warn({ err: describeError(error) }, 'status subscription error');
        message.respond(encode(statusReply(resources)));
      },
    }),
    nc.subscribe(CONTROL_SUBJECTS.stop, {
      callback: (error, message) => {
        if (error) return logger.warn({ err: describeError(error) }, 'stop subscription error');
        const node = stopAddressee(message.data);
        if (node !== undefined && node !== clusterNodeOf(resources.config)) return; // another node's stop: it answers
        logger.info('stop requested over NATS');
        message.respond(encode({ ok: true, pid: process.pid }));
        resources.requestStop('stop requested');
      },
    }),
    nc.subscribe(CONTROL_SUBJECTS.budgetResume, {
      callback: (error, message) => {
        if (error) return logger.warn({ err: describeError(error) }, 'budget subscription error');
        const budget = resources.budget;
        if (!budget) return void message.respond(encode({ ok: false, error: 'the workflow is not running; try again in a moment' } satisfies BudgetReply));
        void budget.resume().then(
          (status) => message.respond(encode({ ok: true, budget: status } satisfies BudgetReply)),
          (failure: unknown) => message.respond(encode({ ok: false, error: `not resumed: ${describeError(failure)}` } satisfies BudgetReply)),
        );
      },
    }),
    nc.subscribe(CONTROL_SUBJECTS.restart, {
      callback: (error, message) => {
        if (error) return logger.warn({ err: describeError(error) }, 'restart subscription error');
        void restartAgent(resources, message.data).then((reply) => {
          // Another node's agent: that node answers (every node hears the request, the CLI reads the first answer).
          if (reply === undefined) return;
          if (reply.ok) logger.info({ agent: reply.agent }, 'agent restarted by hand over NATS');
          else logger.warn({ problem: reply.error }, 'manual restart refused');
          message.respond(encode(reply));
        });
      },
    }),
  ];
  if (process.env.MIYABI_FAULT_INJECTION === '1') {
    logger.warn('fault injection is on (MIYABI_FAULT_INJECTION=1): actors can be killed over NATS');
    subscriptions.push(
      nc.subscribe(CONTROL_SUBJECTS.fault, {
        callback: (error, message) => {
          if (error) return;
          const path = String((message.json() as { kill?: unknown }).kill ?? '');
          const killed = killActor(resources, path);
          logger.warn({ path, killed }, 'fault injected: actor killed');
          message.respond(encode({ ok: killed, path }));
        },
      }),
    );
  }
  void nc.flush().then(
    () => controls.setState('listening', { ready: true }),
    (error: unknown) => controls.fail(error),
  );
  const unsubscribe = () => {
    for (const subscription of subscriptions) subscription.unsubscribe();
  };
  return {
    shutdown: () => {
      unsubscribe();
      controls.done();
    },
    kill: unsubscribe,
  };
});

/** The node a stop names (`{ "node": "<name>" }`), or undefined: an empty or other body stops whoever hears it. */
function stopAddressee(data: Uint8Array): string | undefined {
  try {
    const node = (JSON.parse(new TextDecoder().decode(data)) as { node?: unknown } | null)?.node;
    return typeof node === 'string' ? node : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Restarts the agent a `{ "agent": id }` request names, through its pool; counted as a manual
 * restart. Undefined (no answer) for an agent id of another node of the cluster.
 */
async function restartAgent(resources: OrchestraResources, data: Uint8Array): Promise<RestartReply | undefined> {
  let agent: unknown;
  try {
    agent = (JSON.parse(new TextDecoder().decode(data)) as { agent?: unknown }).agent;
  } catch {
    return { ok: false, error: 'expected { "agent": "<id>" }' };
  }
  if (typeof agent !== 'string' || agent === '') return { ok: false, error: 'expected { "agent": "<id>" }' };
  const agents = resources.root()?.childSupervisor('agents');
  const pool = agents?.childIds().find((id) => agents.childSupervisor(id)?.childIds().includes(agent));
  if (pool === undefined) return ofAnotherNode(resources.config, agent) ? undefined : { ok: false, error: `no agent ${agent}` };
  try {
    await agents!.childSupervisor(pool)!.restartChild(agent);
  } catch (error) {
    return { ok: false, error: `agent ${agent} not restarted: ${describeError(error)}` };
  }
  resources.workflowMetrics.humanIntervention('manual_restart');
  return { ok: true, agent, role: pool.replace(/^pool\./, '') };
}

/**
 * Whether `agentId` is the id of an agent on a cluster node other than this one:
 * `<node>-<role>-<n>` (src/runner/task-message.ts) of a role of the config, another node's name.
 */
function ofAnotherNode(config: OrchestraResources['config'], agentId: string): boolean {
  const node = clusterNodeOf(config);
  if (node === undefined || agentId.startsWith(`${node}-`)) return false;
  return Object.keys(config.agents).some((role) => new RegExp(`^[A-Za-z0-9_-]+-${role}-[1-9][0-9]*$`).test(agentId));
}

/** Kills the actor at `path` (`core/workflow/dag`, from under the root); false when there is none. */
function killActor(resources: OrchestraResources, path: string): boolean {
  const ids = path.split('/').filter(Boolean);
  const last = ids.pop();
  let supervisor = resources.root();
  for (const id of ids) supervisor = supervisor?.childSupervisor(id);
  const actor = last === undefined ? undefined : supervisor?.childActor(last);
  if (!actor) return false;
  actor.stop();
  return true;
}

export function controlChild(resources: OrchestraResources): ChildSpec<typeof controlLogic> {
  return { id: 'control', logic: controlLogic, input: { resources }, restart: 'permanent', shutdown: 2_000 };
}
