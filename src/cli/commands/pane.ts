/**
 * `pane --agent ID --role ROLE`: the process the orchestra starts in each agent's pane (or
 * headless). Not for people to run by hand, though they may: it is an ordinary NATS client.
 * The conductor's pane shows the live status of the whole orchestra instead of taking tasks.
 */
import { join } from 'node:path';
import { CONTROL_SUBJECTS, type StatusReply } from '../../actors/control-subjects.ts';
import { knownSecretValues, resolveSecrets } from '../../config/secrets.ts';
import { logRotationOf } from '../../config/paths.ts';
import { describeError } from '../../errors.ts';
import { inboxPrefixOf, readIdentity, type NatsIdentity } from '../../infra/nats/identities.ts';
import { createLogger, flushLogger } from '../../infra/observe/logger.ts';
import { textRedactor } from '../../infra/observe/redact.ts';
import { readRunFile } from '../../orchestra/run-file.ts';
import { heartbeatSubject, jsonField, runnerErrorSubject, spareClaimSubject, spareReadySubject, type HeartbeatMessage } from '../../runner/heartbeat.ts';
import { startPaneRunner } from '../../runner/pane-runner.ts';
import { writeRunnerPid } from '../../runner/pid-file.ts';
import { runnerIdentity } from '../../runner/task-message.ts';
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
  // Its role's identity, named by the orchestra that started it; else (an external NATS without
  // identities) the configured credentials.
  const nkeyFile = process.env.MIYABI_NATS_NKEY_FILE;
  const identity = nkeyFile ? await readRunnerIdentity(nkeyFile, role) : undefined;
  const nc = await connectCli(loaded, servers, config.nats.connectDeadlineMs, identity ?? 'configured');
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const signalled = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const connectionLost = nc.closed().then((error) => `connection closed${error ? `: ${describeError(error)}` : ''}`);

  // Every value it knows to be secret: redacted from its log, its pane, its agent's output and results.
  const secrets = knownSecretValues(resolveSecrets(config).secrets, config, process.env, identity ? [identity.identity.seed] : []);
  let agentId = flags.agent ?? process.env.MIYABI_AGENT_ID;
  if (spareId) {
    // A spare has loaded, read the config and connected; it becomes an agent when claimed.
    const removeSparePid = await writeRunnerPid(config.dataDir, spareId);
    print(`spare runner for ${role}: waiting to replace an agent`);
    const claimed = await Promise.race([waitForClaim(nc, spareId), signalled, connectionLost]);
    await removeSparePid();
    if (!claimed.startsWith('agent:')) {
      if (!nc.isClosed()) await nc.close();
      return claimed.startsWith('SIG') ? ExitCode.ok : ExitCode.failure;
    }
    agentId = claimed.slice('agent:'.length);
  }
  const logger = createLogger({
    level: config.log.level,
    filePath: join(config.dataDir, 'logs', 'runners', `${agentId}.log`),
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
      logger.error({ err: reason }, 'runner cannot serve');
      if (!nc.isClosed()) nc.publish(runnerErrorSubject(agentId!), JSON.stringify({ agentId, reason }));
      await nc.flush().catch(() => undefined);
      await flushLogger(logger);
      throw error;
    }
    stop = runner.stop;
  }
  const removePid = await writeRunnerPid(config.dataDir, agentId!);
  logger.info({ pid: process.pid, fromSpare: spareId }, 'runner started');
  const ended = await Promise.race([signalled, connectionLost]);
  logger.info({ reason: ended }, 'runner stopping');
  await stop().catch((error: unknown) => logger.error({ err: describeError(error) }, 'runner stop failed'));
  if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
  await removePid();
  await flushLogger(logger);
  return ended.startsWith('SIG') ? ExitCode.ok : ExitCode.failure;
}

/** Announces the spare and resolves with `agent:<id>` when the orchestra claims it. */
function waitForClaim(nc: Awaited<ReturnType<typeof connectCli>>, spareId: string): Promise<string> {
  return new Promise((resolve) => {
    const subscription = nc.subscribe(spareClaimSubject(spareId), {
      callback: (error, message) => {
        if (error) return;
        const agentId = jsonField(message, 'agentId');
        if (typeof agentId !== 'string' || !/^[A-Za-z0-9._-]+$/.test(agentId)) {
          message.respond(JSON.stringify({ ok: false }));
          return;
        }
        message.respond(JSON.stringify({ ok: true, pid: process.pid }));
        subscription.unsubscribe();
        resolve(`agent:${agentId}`);
      },
    });
    void nc.flush().then(() => nc.publish(spareReadySubject(spareId), JSON.stringify({ pid: process.pid })));
  });
}

/** The runner's NATS identity from its seed file; a file that cannot serve ends the runner, saying why. */
async function readRunnerIdentity(file: string, role: string): Promise<{ identity: NatsIdentity; inboxPrefix: string }> {
  try {
    return { identity: await readIdentity(file, runnerIdentity(role)), inboxPrefix: inboxPrefixOf(runnerIdentity(role)) };
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
    nc.publish(heartbeatSubject(agentId), JSON.stringify(heartbeat));
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
