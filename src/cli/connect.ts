/**
 * How CLI commands reach a running orchestra: the run file in the data directory names its NATS
 * URL; the operator's identity in the data directory is the credential (or, on an external NATS
 * without identities, the env vars the config names, as for the orchestra itself).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { loadConfig, type LoadedConfig } from '../config/load.ts';
import { ConfigInvalidError } from '../config/problems.ts';
import type { OrchestraConfig } from '../config/schema.ts';
import { knownSecretValues, resolveSecrets } from '../config/secrets.ts';
import { describeError } from '../errors.ts';
import { connectNats } from '../infra/nats/connection.ts';
import { textRedactor, type Redact } from '../infra/observe/redact.ts';
import { identityFile, inboxPrefixOf, readIdentity, type NatsIdentity } from '../infra/nats/identities.ts';
import { natsIdentityDir, OPERATOR, usesIdentities } from '../orchestra/nats-auth.ts';
import { readRunFile, type RunFile } from '../orchestra/run-file.ts';
import { CliExit, ExitCode, printProblems } from './output.ts';

/**
 * What the CLI prints or posts, redacted like the orchestra's log: every value the config makes
 * known to be secret (its tokens, every variable an `*Env` field names or a role passes to its
 * agents), as this environment holds them.
 */
export function cliRedactor(config: OrchestraConfig): Redact {
  return textRedactor(knownSecretValues(resolveSecrets(config).secrets, config));
}

export async function loadConfigOrExit(path: string | undefined): Promise<LoadedConfig> {
  try {
    return await loadConfig(path);
  } catch (error) {
    if (error instanceof ConfigInvalidError) {
      printProblems(error.source, error.problems);
      throw new CliExit(ExitCode.invalid, '');
    }
    throw new CliExit(ExitCode.invalid, describeError(error));
  }
}

/** The live orchestra's run file, or an exit saying it is not running (or left a stale file). */
export async function liveRunFile(loaded: LoadedConfig): Promise<RunFile> {
  const state = await readRunFile(loaded.config.dataDir);
  if (state.kind === 'absent') {
    throw new CliExit(ExitCode.failure, `no orchestra is running (no run file in ${loaded.config.dataDir})`);
  }
  if (state.kind === 'stale') {
    throw new CliExit(
      ExitCode.failure,
      `no orchestra is running: the run file in ${loaded.config.dataDir} is stale (${state.reason}); the next \`up\` cleans it up`,
    );
  }
  return state.runFile;
}

/**
 * A NATS connection for a command. `as`: the operator's identity (`<dataDir>/secrets/nats/
 * operator.nk`, readable only by the user who runs the orchestra) wherever the orchestra uses
 * identities, else the configured credentials (default); a runner's own identity; or
 * `'configured'`, the configured credentials whatever the mode (a runner on an external NATS).
 */
export async function connectCli(
  loaded: LoadedConfig,
  servers: string[],
  deadlineMs = 5_000,
  as: { identity: NatsIdentity; inboxPrefix: string } | 'operator' | 'configured' = 'operator',
): Promise<NatsConnection> {
  const { secrets } = resolveSecrets(loaded.config);
  let identity = typeof as === 'object' ? as : undefined;
  if (as === 'operator' && usesIdentities(loaded.config)) {
    const file = identityFile(natsIdentityDir(loaded.config.dataDir), OPERATOR);
    try {
      identity = { identity: await readIdentity(file, OPERATOR), inboxPrefix: inboxPrefixOf(OPERATOR) };
    } catch (error) {
      throw new CliExit(ExitCode.failure, `cannot use the operator's NATS identity: ${describeError(error)} (only the user who runs the orchestra can)`);
    }
  }
  try {
    return await connectNats({
      servers,
      // A runner is named by its identity (`runner-<role>-<slot>`) in the server's connection info.
      name: typeof as === 'object' ? as.identity.name : 'miyabi-orchestra-cli',
      auth: identity
        ? { nkeySeed: identity.identity.seed }
        : { user: secrets.nats.user, pass: secrets.nats.password, token: secrets.nats.token, credsFile: secrets.nats.credsFile },
      ...(identity ? { inboxPrefix: identity.inboxPrefix } : {}),
      tls: loaded.config.nats.tls,
      connectDeadlineMs: deadlineMs,
      logger: pino({ level: 'silent' }),
    });
  } catch (error) {
    throw new CliExit(ExitCode.failure, `cannot reach NATS at ${servers.join(', ')}: ${describeError(error)}`);
  }
}

/** NATS servers to inspect: the running orchestra's, else the configured external ones. */
export async function serversFor(loaded: LoadedConfig): Promise<string[]> {
  const state = await readRunFile(loaded.config.dataDir);
  if (state.kind === 'live') return [state.runFile.natsUrl];
  if (loaded.config.nats.urls.length > 0) return loaded.config.nats.urls;
  return [(await liveRunFile(loaded)).natsUrl];
}
