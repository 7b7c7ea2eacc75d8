/**
 * Secrets are never in the config file: it names environment variables (`*Env` fields), and
 * this reads them. A variable that is named but unset (or empty) is a problem naming both the
 * config field and the variable, so `doctor` and `up` can say exactly what to export.
 */
import type { ConfigProblem } from './problems.ts';
import type { OrchestraConfig } from './schema.ts';

export interface Secrets {
  readonly nats: {
    readonly user?: string;
    readonly password?: string;
    readonly token?: string;
    /** Path of the credentials file (the file itself is read by the NATS client). */
    readonly credsFile?: string;
  };
  /** Only read when issues.source is "github". */
  readonly githubToken?: string;
  /** Only read when issues.github.webhook is set. */
  readonly webhookSecret?: string;
  /** The console's token (console.tokenEnv). */
  readonly consoleToken?: string;
}

export interface SecretsResult {
  /** The secrets that were found; complete when `problems` is empty. */
  readonly secrets: Secrets;
  readonly problems: readonly ConfigProblem[];
}

type Env = Readonly<Record<string, string | undefined>>;

export function resolveSecrets(config: OrchestraConfig, env: Env = process.env): SecretsResult {
  const problems: ConfigProblem[] = [];
  const read = (field: string, name: string | undefined, why = ''): string | undefined => {
    if (name === undefined) return undefined;
    const value = env[name];
    if (value === undefined || value === '') {
      problems.push({ path: field, message: `environment variable ${name} is not set${why}` });
      return undefined;
    }
    return value;
  };
  const { auth } = config.nats;
  const external = config.nats.urls.length > 0 && !auth.identities;
  // The embedded server (and an external one with `identities`) takes the orchestra's own nkeys
  // from the data directory; these variables are only read for an external NATS without them.
  const nats = external
    ? {
        user: read('nats.auth.userEnv', auth.userEnv),
        password: read('nats.auth.passwordEnv', auth.passwordEnv),
        token: read('nats.auth.tokenEnv', auth.tokenEnv),
        credsFile: read('nats.auth.credsFileEnv', auth.credsFileEnv),
      }
    : {};
  const github = config.issues.source === 'github' ? config.issues.github : undefined;
  const githubToken = read(
    'issues.github.tokenEnv',
    github?.tokenEnv,
    ' (needed because issues.source is "github")',
  );
  const webhookSecret = read(
    'issues.github.webhook.secretEnv',
    github?.webhook?.secretEnv,
    ' (needed because issues.github.webhook is set)',
  );
  const consoleToken = read('console.tokenEnv', config.console.tokenEnv);
  return {
    secrets: {
      nats: dropUndefined(nats),
      ...(consoleToken === undefined ? {} : { consoleToken }),
      ...(githubToken === undefined ? {} : { githubToken }),
      ...(webhookSecret === undefined ? {} : { webhookSecret }),
    },
    problems,
  };
}

/** Every secret value, for the logger's redaction by value. */
export function secretValues(secrets: Secrets): string[] {
  const { user, password, token } = secrets.nats;
  return [user, password, token, secrets.githubToken, secrets.webhookSecret, secrets.consoleToken].filter(
    (value): value is string => typeof value === 'string' && value !== '',
  );
}

/** Shorter values are not redacted by value: replacing `1` or `yes` everywhere would garble every line. */
export const MIN_REDACTED_LENGTH = 4;

/**
 * Every value the orchestra knows to be secret, for redaction by value wherever text leaves it
 * (logs, pane logs, results, comments, pull requests, the console): its own secrets, the value
 * of every variable an `*Env` field names, and of every variable a role passes to its agent
 * (`agents.<role>.env`), as `env` holds them; plus `extra` (the NATS seeds). Values shorter
 * than MIN_REDACTED_LENGTH are left out.
 */
export function knownSecretValues(secrets: Secrets, config: OrchestraConfig, env: Env = process.env, extra: readonly string[] = []): string[] {
  const names = new Set<string>(Object.values(config.agents).flatMap((agent) => agent.env));
  for (const name of envFieldNames(config)) names.add(name);
  const values = [...secretValues(secrets), ...[...names].map((name) => env[name]), ...extra];
  return [...new Set(values.filter((value): value is string => typeof value === 'string' && value.length >= MIN_REDACTED_LENGTH))];
}

/** The variable names every `*Env` field of the config holds, wherever it is. */
export function envFieldNames(config: unknown): string[] {
  const found: string[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key.endsWith('Env') && typeof value === 'string') found.push(value);
      else walk(value);
    }
  };
  walk(config);
  return found;
}

function dropUndefined<T extends object>(value: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as never;
}
