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
  const external = config.nats.urls.length > 0;
  // The embedded server runs without auth; its credentials are only needed for an external NATS.
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
  return {
    secrets: {
      nats: dropUndefined(nats),
      ...(githubToken === undefined ? {} : { githubToken }),
      ...(webhookSecret === undefined ? {} : { webhookSecret }),
    },
    problems,
  };
}

/** Every secret value, for the logger's redaction by value. */
export function secretValues(secrets: Secrets): string[] {
  const { user, password, token } = secrets.nats;
  return [user, password, token, secrets.githubToken, secrets.webhookSecret].filter(
    (value): value is string => typeof value === 'string' && value !== '',
  );
}

function dropUndefined<T extends object>(value: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as never;
}
