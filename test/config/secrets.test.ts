import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.ts';
import { formatProblem } from '../../src/config/problems.ts';
import type { OrchestraConfig } from '../../src/config/schema.ts';
import { knownSecretValues, resolveSecrets, secretValues } from '../../src/config/secrets.ts';

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

describe('knownSecretValues', () => {
  it('holds the value of every variable an *Env field names, wherever it is, and of every agents.<role>.env; never a short one', () => {
    const parsed = config(
      [
        'nats: { urls: [nats://n:4222], auth: { tokenEnv: NT } }',
        'issues: { source: github, github: { owner: o, repo: r, tokenEnv: GH, webhook: { secretEnv: WH } } }',
        'notify: { webhooks: [{ kind: slack, urlEnv: SLACK }, { kind: json, urlEnv: HOOK }] }',
        'agents:',
        '  codegen: { command: [a], env: [ANTHROPIC_API_KEY, SHORT] }',
        '  review: { command: [b], env: [OPENAI_API_KEY] }',
        '',
      ].join('\n'),
    );
    const env = {
      NT: 'nats-token-1',
      GH: 'ghp_token_2',
      WH: 'webhook-secret-3',
      SLACK: 'https://hooks.slack.example/4',
      HOOK: 'https://hooks.example/5',
      ANTHROPIC_API_KEY: 'sk-ant-6',
      OPENAI_API_KEY: 'sk-openai-7',
      SHORT: 'abc',
      UNNAMED: 'not-a-secret-of-ours',
    };
    const { secrets } = resolveSecrets(parsed, env);
    expect(knownSecretValues(secrets, parsed, env, ['SUSEEDOFANIDENTITY']).sort()).toEqual(
      ['nats-token-1', 'ghp_token_2', 'webhook-secret-3', 'https://hooks.slack.example/4', 'https://hooks.example/5', 'sk-ant-6', 'sk-openai-7', 'SUSEEDOFANIDENTITY'].sort(),
    );
  });
});
