import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.ts';
import { formatProblem } from '../../src/config/problems.ts';
import type { OrchestraConfig } from '../../src/config/schema.ts';
import { resolveSecrets, secretValues } from '../../src/config/secrets.ts';

function config(text: string): OrchestraConfig {
  const result = parseConfigText(text, 'test.yaml');
  if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
  return result.config;
}

describe('resolveSecrets', () => {
  it('needs nothing for the embedded default', () => {
    expect(resolveSecrets(config(''), {})).toEqual({ secrets: { nats: {} }, problems: [] });
  });

  it('reads the variables the config names', () => {
    const result = resolveSecrets(
      config(
        'nats: { urls: [nats://n:4222], auth: { userEnv: NU, passwordEnv: NP } }\n' +
          'issues: { source: github, github: { owner: o, repo: r, tokenEnv: GH } }\n',
      ),
      { NU: 'orchestra', NP: 'pa55-w0rd', GH: 'ghp_secret_token' },
    );
    expect(result.problems).toEqual([]);
    expect(result.secrets).toEqual({
      nats: { user: 'orchestra', password: 'pa55-w0rd' },
      githubToken: 'ghp_secret_token',
    });
    expect(secretValues(result.secrets)).toEqual(['orchestra', 'pa55-w0rd', 'ghp_secret_token']);
  });

  it('names the config field and the variable of a missing secret', () => {
    const result = resolveSecrets(
      config('nats: { urls: [nats://n:4222], auth: { tokenEnv: NATS_TOKEN } }\nissues: { source: github, github: { owner: o, repo: r } }\n'),
      { NATS_TOKEN: '' },
    );
    expect(result.problems.map(formatProblem)).toEqual([
      'nats.auth.tokenEnv: environment variable NATS_TOKEN is not set',
      'issues.github.tokenEnv: environment variable GITHUB_TOKEN is not set (needed because issues.source is "github")',
    ]);
    expect(result.secrets).toEqual({ nats: {} });
  });

  it('ignores the github token while the source is local', () => {
    const result = resolveSecrets(config('issues: { github: { owner: o, repo: r } }\n'), {});
    expect(result.problems).toEqual([]);
  });
});
