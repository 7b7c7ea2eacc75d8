/**
 * Who may do what on the bus: the orchestra's NATS identities and their permissions, enforced by
 * the server. Every identity is an nkey (src/infra/nats/identities.ts) under
 * `<dataDir>/secrets/nats/`, readable only by the user who runs the orchestra.
 *
 * | identity          | publishes                                                      | subscribes |
 * | ----------------- | -------------------------------------------------------------- | ---------- |
 * | `orchestrator`    | anything (tasks, issue events, KV, JetStream API) but `miyabi.control.{stop,restart,budget.resume,fault}` | anything |
 * | `operator`        | `miyabi.control.{status,stop,restart,budget.resume,fault}`, the read side of the JetStream API | `miyabi.>`, `_INBOX.>` |
 * | `runner-<role>-<n>` | its own agent's (`<role>-<n>`) results, heartbeats and errors, its role's dead letters; pulls and acks on its role's durable `agents-<role>`; reads `cancel.*` of the KV bucket; writes its role's kept answers (`<role>.*` of `miyabi-answers`) and reads that bucket; the conductor also asks `miyabi.control.status` | `miyabi.control.cancel`, its own inbox `_INBOX.runner-<role>-<n>.>` |
 * | `runner-<role>-spare` | its role's spares' ready | its role's spare claims, its own inbox |
 *
 * One identity per slot of a role's pool (agents `<role>-1`..`<role>-<max>`, and the spare), so
 * each runner is its own user on the server: named in its connection info, speaking for its own
 * agent only. A claimed spare connects again as the slot it was claimed for (src/cli/commands/pane.ts).
 * On a cluster the node's name is in every runner identity and agent id (`runner-<node>-<role>-<n>`
 * speaks for `<node>-<role>-<n>`): the nodes sharing a server have distinct users, and a runner of
 * one node cannot heartbeat or answer for the same slot of another.
 *
 * Denied to all but the orchestrator, whatever else they are allowed: `miyabi.tasks.>`,
 * `miyabi.events.issue.>`, `$KV.>` (KV writes: a runner's own role's kept answers are the one
 * exception), `miyabi.control.stop|fault|cancel` (the operator may stop). A runner cannot read
 * another role's tasks, the KV bucket (but the cancel marks), the replies to other clients, nor
 * stop the orchestra. It can read any role's kept answers: a read of the stream's leader names
 * its key in the request's body, which no permission sees (src/runner/kept-answers.ts says why
 * the leader's); the answers are results, which the runners publish redacted.
 *
 * The embedded server gets these users in its config (`<dataDir>/secrets/nats/server.conf`,
 * written at each start from the public keys; missing or loose seeds are repaired). An external
 * server gets the same users in an account of their own from `miyabi-orchestra nats-config`; with
 * `nats.auth.identities: true` the orchestra then connects with them and refuses to start when a
 * seed is missing or readable by others, naming the file.
 */
import { chmod, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONTROL_SUBJECTS } from '../actors/control-subjects.ts';
import type { OrchestraConfig } from '../config/schema.ts';
import { clusterNodeOf } from '../config/sections/cluster.ts';
import { DEFAULT_BUS_TOPOLOGY, deadLetterSubject, streamSubject } from '../infra/bus/topology.ts';
import { ensurePrivateDir, inboxPrefixOf, loadIdentities, type NatsIdentity } from '../infra/nats/identities.ts';
import { accountsBlock, authorizationBlock, type NkeyUser, type UserPermissions } from '../infra/nats/server-config.ts';
import { secretsDir } from './installation.ts';
import { heartbeatSubject, runnerErrorSubject, spareClaimSubject, spareReadySubject } from '../runner/heartbeat.ts';
import { agentIdOf, CANCEL_SUBJECT, resultSubject, runnerIdentity, runnerSlots, taskAckPrefix, taskDurable, taskSubject, type RunnerSlot } from '../runner/task-message.ts';

export { runnerIdentity } from '../runner/task-message.ts';

export const ORCHESTRATOR = 'orchestrator';
export const OPERATOR = 'operator';

/** `<dataDir>/secrets/nats`: the identities' seeds and the embedded server's config. */
export function natsIdentityDir(dataDir: string): string {
  return join(secretsDir(dataDir), 'nats');
}

/** Whether the orchestra connects with its identities: always on the embedded server; on an external one when configured. */
export function usesIdentities(config: Pick<OrchestraConfig, 'nats'>): boolean {
  return config.nats.urls.length === 0 || config.nats.auth.identities;
}

/** What the identities and their permissions depend on: the roles, and on a cluster this node's name. */
type RunnersConfig = Pick<OrchestraConfig, 'agents' | 'cluster'>;

/**
 * Every runner identity of `config`: one per slot of each role's pool (src/runner/task-message.ts),
 * named with this node's name on a cluster, so the nodes sharing a server have distinct users.
 */
export function runnerIdentities(config: RunnersConfig): Map<string, { role: string; slot: RunnerSlot; node: string | undefined }> {
  const node = clusterNodeOf(config);
  const runners = new Map<string, { role: string; slot: RunnerSlot; node: string | undefined }>();
  for (const [role, agent] of Object.entries(config.agents)) {
    for (const slot of runnerSlots(agent.max)) runners.set(runnerIdentity(role, slot, node), { role, slot, node });
  }
  return runners;
}

export function identityNames(config: RunnersConfig): string[] {
  return [ORCHESTRATOR, OPERATOR, ...runnerIdentities(config).keys()];
}

const topology = DEFAULT_BUS_TOPOLOGY;
const kvStream = `KV_${topology.kvBucket}`;
const answersStream = `KV_${topology.answersBucket}`;

/** What only the orchestrator may publish. */
function orchestratorOnly(): string[] {
  return [streamSubject(topology, 'tasks'), `${topology.prefix}.events.issue.>`, '$KV.>', CONTROL_SUBJECTS.fault, CANCEL_SUBJECT];
}

/**
 * The orchestrator publishes what it likes but a stop, a restart or a fault: those only the operator sends,
 * so a control message comes from the operator's identity (the server says so), and whoever holds
 * the orchestrator's credentials still cannot stop it.
 */
export function orchestratorPermissions(): UserPermissions {
  return {
    publish: { allow: ['>'], deny: [CONTROL_SUBJECTS.stop, CONTROL_SUBJECTS.restart, CONTROL_SUBJECTS.budgetResume, CONTROL_SUBJECTS.fault] },
    subscribe: { allow: ['>'] },
  };
}

/**
 * The KV writes denied to a runner: every bucket's but the kept answers'. Its allow list names its
 * own role's answers only, so no other role's are open to it either; a deny of them would need
 * the other roles' names.
 */
function kvWritesDeniedToRunners(): string[] {
  return [topology.kvBucket, topology.onceBucket, topology.leaseBucket, topology.nodesBucket].map((bucket) => `$KV.${bucket}.>`);
}

/** The permissions of the runner in `slot` of `role`'s pool on `node` (undefined: a single node). */
export function runnerPermissions(role: string, slot: RunnerSlot, node: string | undefined): UserPermissions {
  const inbox = `${inboxPrefixOf(runnerIdentity(role, slot, node))}.>`;
  if (slot === 'spare') {
    // A spare only waits to be claimed; it serves as the slot it is claimed for, as that slot.
    return {
      publish: { allow: [spareReadySubject(role, '*')], deny: [...orchestratorOnly(), CONTROL_SUBJECTS.stop, CONTROL_SUBJECTS.restart, CONTROL_SUBJECTS.budgetResume] },
      subscribe: { allow: [inbox, spareClaimSubject(role, '*')] },
      allowResponses: true,
    };
  }
  const tasks = topology.streams.tasks;
  const durable = taskDurable(role);
  const agentId = agentIdOf(role, slot, node);
  return {
    publish: {
      allow: [
        '$JS.API.INFO',
        `$JS.API.CONSUMER.INFO.${tasks}.${durable}`,
        `$JS.API.CONSUMER.MSG.NEXT.${tasks}.${durable}`,
        `${taskAckPrefix(role)}>`,
        resultSubject(role, agentId),
        deadLetterSubject(topology, taskSubject(role)),
        // Read-only, and only the cancel marks: a task cancelled while it waited is dropped.
        `$JS.API.DIRECT.GET.${kvStream}.$KV.${topology.kvBucket}.cancel.>`,
        // Its role's kept answers: written (each key once: src/runner/kept-answers.ts), read from the stream's leader.
        `$KV.${topology.answersBucket}.${role}.>`,
        `$JS.API.STREAM.MSG.GET.${answersStream}`,
        // Its own agent only: the agent id is a token of the subject.
        heartbeatSubject(role, agentId),
        runnerErrorSubject(role, agentId),
        // The Conductor's pane shows the tree.
        ...(role === 'conductor' ? [CONTROL_SUBJECTS.status] : []),
      ],
      // `$KV.>` but its own role's answers: a deny would win over that allow.
      deny: [...orchestratorOnly().filter((subject) => subject !== '$KV.>'), ...kvWritesDeniedToRunners(), CONTROL_SUBJECTS.stop, CONTROL_SUBJECTS.restart, CONTROL_SUBJECTS.budgetResume],
    },
    subscribe: { allow: [inbox, CANCEL_SUBJECT] },
    allowResponses: true,
  };
}

export function operatorPermissions(): UserPermissions {
  const read = ['INFO', 'STREAM.NAMES', 'STREAM.LIST', 'STREAM.INFO.>', 'STREAM.MSG.GET.>', 'DIRECT.GET.>', 'CONSUMER.NAMES.>', 'CONSUMER.LIST.>', 'CONSUMER.INFO.>'];
  // Listing KV keys and viewing a stream take an ephemeral (ordered) consumer.
  const view = ['CONSUMER.CREATE.>', 'CONSUMER.DELETE.>', 'CONSUMER.MSG.NEXT.>'];
  return {
    publish: {
      allow: [CONTROL_SUBJECTS.status, CONTROL_SUBJECTS.stop, CONTROL_SUBJECTS.restart, CONTROL_SUBJECTS.budgetResume, CONTROL_SUBJECTS.fault, ...[...read, ...view].map((api) => `$JS.API.${api}`), '$JS.FC.>'],
      deny: orchestratorOnly().filter((subject) => subject !== CONTROL_SUBJECTS.fault),
    },
    subscribe: { allow: [`${topology.prefix}.>`, '_INBOX.>'] },
  };
}

/** The server's users: every identity's public key with its permissions. */
export function natsUsers(identities: ReadonlyMap<string, NatsIdentity>, config: RunnersConfig): NkeyUser[] {
  const runners = runnerIdentities(config);
  return [...identities.values()].map((identity) => {
    const runner = runners.get(identity.name);
    const permissions =
      identity.name === ORCHESTRATOR
        ? orchestratorPermissions()
        : identity.name === OPERATOR
          ? operatorPermissions()
          : runner
            ? runnerPermissions(runner.role, runner.slot, runner.node)
            : undefined;
    // A name of neither kind would be a user allowed everything: none is made.
    if (!permissions) throw new Error(`no permissions for the NATS identity ${identity.name}`);
    return { name: identity.name, publicKey: identity.publicKey, permissions };
  });
}

export interface PreparedNatsAuth {
  identities: Map<string, NatsIdentity>;
  /** The embedded server's config file (authorization with every user). */
  serverConfigFile?: string;
}

/**
 * Loads the identities of `config` from the data directory: repaired (generated, modes
 * tightened) for the embedded server, whose config is written here too; checked and refused
 * naming the file for an external one (`repair: false`).
 */
export async function prepareNatsAuth(
  config: OrchestraConfig,
  options: { repair: boolean; onRepair?: (file: string, what: string, created?: boolean) => void; /** Default: for the embedded server. */ writeServerConfig?: boolean },
): Promise<PreparedNatsAuth> {
  const { onRepair } = options;
  await mkdir(config.dataDir, { recursive: true });
  await ensurePrivateDir(secretsDir(config.dataDir), { repair: options.repair, onRepair });
  const dir = natsIdentityDir(config.dataDir);
  const identities = await loadIdentities(dir, identityNames(config), { repair: options.repair, onRepair });
  if (options.repair) await removeStaleRunnerSeeds(dir, identities, onRepair);
  if (!(options.writeServerConfig ?? config.nats.urls.length === 0)) return { identities };
  const serverConfigFile = join(dir, 'server.conf');
  await writeFile(serverConfigFile, `# written by miyabi-orchestra at each start; edit nothing here\n${authorizationBlock(natsUsers(identities, config))}`, { mode: 0o600 });
  await chmod(serverConfigFile, 0o600);
  return { identities, serverConfigFile };
}

/**
 * Deletes the runner seeds no runner of this config uses: the per-role `runner-<role>.nk` of
 * before per-slot identities, the slots above a lowered `max`, the roles gone, a single node's
 * once it runs as a node of a cluster (or a cluster node's under another name). The server does not
 * know them any more; a seed nobody uses is only one more to leak. The orchestrator's and the
 * operator's are never touched, nor anything that is not a runner's seed.
 */
async function removeStaleRunnerSeeds(dir: string, identities: ReadonlyMap<string, NatsIdentity>, onRepair?: (file: string, what: string) => void): Promise<void> {
  for (const name of await readdir(dir)) {
    const identity = /^(runner-[A-Za-z0-9_-]+)\.nk$/.exec(name)?.[1];
    if (identity === undefined || identities.has(identity)) continue;
    await rm(join(dir, name), { force: true });
    onRepair?.(join(dir, name), 'removed: no runner of this config uses this identity');
  }
}

/** What `nats-config` prints: the users in an account of their own, for an external server. */
export function externalServerConfig(identities: ReadonlyMap<string, NatsIdentity>, config: RunnersConfig, account: string): string {
  return accountsBlock(account, natsUsers(identities, config));
}
