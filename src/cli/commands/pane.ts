/**
 * `pane --agent ID --role ROLE`: the process the orchestra starts in each agent's pane (or
 * headless). Not for people to run by hand, though they may: it is an ordinary NATS client.
 * The conductor's pane shows the live status of the whole orchestra instead of taking tasks.
 */
import { basename, dirname, join } from 'node:path';
import { CONTROL_SUBJECTS, type StatusReply } from '../../actors/control-subjects.ts';
import { knownSecretValues, resolveSecrets } from '../../config/secrets.ts';
import { clusterNodeOf } from '../../config/sections/cluster.ts';
import { logRotationOf } from '../../config/paths.ts';
import { describeError } from '../../errors.ts';
import { inboxPrefixOf, readIdentity, type NatsIdentity } from '../../infra/nats/identities.ts';
import { createLogger, flushLogger } from '../../infra/observe/logger.ts';
import { textRedactor } from '../../infra/observe/redact.ts';
import { readRunFile } from '../../orchestra/run-file.ts';
import { heartbeatSubject, jsonField, runnerErrorSubject, spareClaimSubject, spareReadySubject, type HeartbeatMessage } from '../../runner/heartbeat.ts';
import { startPaneRunner } from '../../runner/pane-runner.ts';
import { writeRunnerPid } from '../../runner/pid-file.ts';
import { CANNOT_SERVE, runnerLogFile } from '../../runner/runner-log.ts';
import { agentSlot, runnerIdentity } from '../../runner/task-message.ts';
import { connectCli, loadConfigOrExit } from '../connect.ts';
import { CliExit, ExitCode, renderTree } from '../output.ts';

export async function pane(flags: { config?: string; agent?: string; role?: string; spare?: string }): Promise<number> {
  const role = flags.role ?? process.env.MIYABI_ROLE;
  const spareId = flags.spare;
  if (!role || (!spareId && !(flags.agent ?? process.env.MIYABI_AGENT_ID))) {
    throw new CliExit(ExitCode.invalid, 'pane needs --role ROLE and --agent ID (or --spare ID)');
  }
  const loaded = await loadConfigOrExit(flags.config);
  const { config } = loaded;
  const servers = process.env.MIYABI_NATS_URL?.split(',') ?? (await runFileServers(config.dataDir));
  const nkeyFile = process.env.MIYABI_NATS_NKEY_FILE;
  let agentId = flags.agent ?? process.env.MIYABI_AGENT_ID;
  let { identity, nc } = await connectRunner(loaded, servers, role, nkeyFile, spareId ? undefined : agentId);
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const signalled = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const lost = (connection: RunnerConnection['nc']) => connection.closed().then((error) => `connection closed${error ? `: ${describeError(error)}` : ''}`);
  const seeds = identity ? [identity.identity.seed] : [];

  if (spareId) {
    // A spare has loaded, read the config and connected; it becomes an agent when claimed, and
    // connects again as that agent's slot (its own identity), leaving the spare's to the next spare.
    const removeSparePid = await recordPid(config.dataDir, spareId, (reason) => print(`spare runner pid file not written: ${reason}`));
    print(`spare runner for ${role}: waiting to replace an agent`);
    const node = clusterNodeOf(config);
    // Only an agent of this role on this node: a claim naming another node's agent is refused.
    const slotOf = (claimedId: string) => agentSlot(role, claimedId, node);
    const asSlot = async (claimedId: string): Promise<RunnerConnection> => {
      const slot = slotOf(claimedId)!;
      if (nkeyFile === undefined) return { identity, nc };
      return connectRunner(loaded, servers, role, join(dirname(nkeyFile), `${runnerIdentity(role, slot, node)}.nk`), claimedId);
    };
    const claimed = await Promise.race([waitForClaim(nc, role, spareId, slotOf, asSlot), signalled, lost(nc)]);
    await removeSparePid();
    if (typeof claimed === 'string') {
      if (!nc.isClosed()) await nc.close();
      return claimed.startsWith('SIG') ? ExitCode.ok : ExitCode.failure;
    }
    if (claimed.connection.nc !== nc) await nc.close();
    ({ identity, nc } = claimed.connection);
    if (identity) seeds.push(identity.identity.seed);
    agentId = claimed.agentId;
  }
  const connectionLost = lost(nc);
  // Every value it knows to be secret: redacted from its log, its pane, its agent's output and results.
  const secrets = knownSecretValues(resolveSecrets(config).secrets, config, process.env, seeds);
  const logger = createLogger({
    level: config.log.level,
    filePath: runnerLogFile(config.dataDir, agentId!),
    rotation: logRotationOf(config),
    stdout: false,
    secrets,
  }).child({ actorId: agentId, role });

  let stop: () => Promise<void>;
  if (role === 'conductor') {
    stop = conductor(nc, agentId!, config.panes.heartbeatIntervalMs, print);
  } else {
    let runner;
    try {
      runner = await startPaneRunner({ agentId: agentId!, role, config, nc, logger, print, redact: textRedactor(secrets) });
    } catch (error) {
      // Say why before exiting (a missing agent program, a NATS permission refused), so the
      // orchestra's log names the cause and not only the exit; its pool restarts this runner.
      const reason = describeError(error);
      logger.error({ err: reason }, CANNOT_SERVE);
      if (!nc.isClosed()) nc.publish(runnerErrorSubject(role, agentId!), JSON.stringify({ agentId, reason }));
      await nc.flush().catch(() => undefined);
      await flushLogger(logger);
      throw error;
    }
    stop = runner.stop;
  }
  const removePid = await recordPid(config.dataDir, agentId!, (reason) => logger.warn({ err: reason }, 'runner pid file not written'));
  logger.info({ pid: process.pid, fromSpare: spareId }, 'runner started');
  const ended = await Promise.race([signalled, connectionLost]);
  logger.info({ reason: ended }, 'runner stopping');
  await stop().catch((error: unknown) => logger.error({ err: describeError(error) }, 'runner stop failed'));
  if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
  await removePid();
  await flushLogger(logger);
  return ended.startsWith('SIG') ? ExitCode.ok : ExitCode.failure;
}

type RunnerConnection = Awaited<ReturnType<typeof connectRunner>>;

/** The runner's pid file, for whoever looks for it later: a full disk refusing it is no reason not to serve. */
function recordPid(dataDir: string, id: string, warn: (reason: string) => void): Promise<() => Promise<void>> {
  return writeRunnerPid(dataDir, id).catch((error: unknown) => {
    warn(describeError(error));
    return async () => undefined;
  });
}

/**
 * Announces the spare and resolves when the orchestra claims it for one of the role's agents,
 * once connected as that agent's slot (`asSlot`); a claim it cannot take is answered `ok: false`.
 */
function waitForClaim(
  nc: RunnerConnection['nc'],
  role: string,
  spareId: string,
  slotOf: (agentId: string) => number | undefined,
  asSlot: (agentId: string) => Promise<RunnerConnection>,
): Promise<{ agentId: string; connection: RunnerConnection }> {
  return new Promise((resolve) => {
    let claiming = false;
    const subscription = nc.subscribe(spareClaimSubject(role, spareId), {
      callback: (error, message) => {
        if (error || claiming) return;
        const agentId = jsonField(message, 'agentId');
        if (typeof agentId !== 'string' || slotOf(agentId) === undefined) {
          message.respond(JSON.stringify({ ok: false }));
          return;
        }
        claiming = true;
        void asSlot(agentId).then(
          (connection) => {
            message.respond(JSON.stringify({ ok: true, pid: process.pid }));
            subscription.unsubscribe();
            void nc.flush().then(
              () => resolve({ agentId, connection }),
              () => resolve({ agentId, connection }),
            );
          },
          () => {
            // Its slot's identity refused (the log says why): the orchestra starts a runner instead.
            claiming = false;
            message.respond(JSON.stringify({ ok: false }));
          },
        );
      },
    });
    void nc.flush().then(() => nc.publish(spareReadySubject(role, spareId), JSON.stringify({ pid: process.pid })));
  });
}

/**
 * Connects with its role's identity, named by the orchestra that started it; else (an external
 * NATS without identities) with the configured credentials. Refused before it could say so on the
 * bus (a seed it cannot read, a key the server does not know), it says why in its log, where the
 * orchestra looks when it exits without a word (src/runner/runner-log.ts).
 */
async function connectRunner(loaded: Awaited<ReturnType<typeof loadConfigOrExit>>, servers: string[], role: string, nkeyFile: string | undefined, agentId: string | undefined) {
  const { config } = loaded;
  try {
    const identity = nkeyFile ? await readRunnerIdentity(nkeyFile) : undefined;
    return { identity, nc: await connectCli(loaded, servers, config.nats.connectDeadlineMs, identity ?? 'configured') };
  } catch (error) {
    if (agentId !== undefined) {
      const secrets = knownSecretValues(resolveSecrets(config).secrets, config);
      const logger = createLogger({ level: config.log.level, filePath: runnerLogFile(config.dataDir, agentId), stdout: false, secrets }).child({ actorId: agentId, role });
      logger.error({ err: error instanceof CliExit ? error.message : describeError(error) }, CANNOT_SERVE);
      await flushLogger(logger);
    }
    throw error;
  }
}

/**
 * The runner's NATS identity from its slot's seed file (`runner-[<node>-]<role>-<slot>.nk`, named by the
 * orchestra); a file that cannot serve ends the runner, saying why.
 */
async function readRunnerIdentity(file: string): Promise<{ identity: NatsIdentity; inboxPrefix: string }> {
  const name = basename(file, '.nk');
  try {
    return { identity: await readIdentity(file, name), inboxPrefix: inboxPrefixOf(name) };
  } catch (error) {
    throw new CliExit(ExitCode.failure, `pane: ${describeError(error)}`);
  }
}

async function runFileServers(dataDir: string): Promise<string[]> {
  const state = await readRunFile(dataDir);
  if (state.kind !== 'live') throw new CliExit(ExitCode.failure, 'no orchestra is running and MIYABI_NATS_URL is not set');
  return [state.runFile.natsUrl];
}

/** The Conductor: heartbeats like any agent, and redraws the orchestra's tree in its pane. */
function conductor(
  nc: Awaited<ReturnType<typeof connectCli>>,
  agentId: string,
  intervalMs: number,
  print: (line: string) => void,
): () => Promise<void> {
  const tick = async () => {
    const heartbeat: HeartbeatMessage = { agentId, state: 'idle', pid: process.pid, at: new Date().toISOString() };
    nc.publish(heartbeatSubject('conductor', agentId), JSON.stringify(heartbeat));
    try {
      const reply = (await nc.request(CONTROL_SUBJECTS.status, undefined, { timeout: intervalMs })).json<StatusReply>();
      // Clear the pane and redraw: the Conductor shows the present, not a scrollback.
      print(`\x1b[2J\x1b[H指揮 Conductor — ${new Date().toLocaleTimeString()}\n\n${renderTree(reply.tree)}`);
    } catch (error) {
      print(`status unavailable: ${describeError(error)}`);
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), intervalMs);
  return async () => clearInterval(timer);
}
