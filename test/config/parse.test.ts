import { describe, expect, it } from 'vitest';
import { MAX_CONFIG_BYTES, parseConfigText } from '../../src/config/load.ts';
import { formatProblem, type ConfigProblem } from '../../src/config/problems.ts';

function problemsOf(text: string): readonly ConfigProblem[] {
  const result = parseConfigText(text, 'test.yaml');
  if (result.ok) throw new Error('expected problems, the config was accepted');
  return result.problems;
}

const lines = (text: string) => problemsOf(text).map(formatProblem);

describe('parseConfigText', () => {
  it('fills every default from an empty file', () => {
    const result = parseConfigText('', 'empty.yaml');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.dataDir).toBe('.miyabi');
    expect(result.config.nats.urls).toEqual([]);
    expect(result.config.nats.embedded).toEqual({ host: '127.0.0.1', port: 0 });
    expect(result.config.http).toEqual({ enabled: true, host: '127.0.0.1', port: 9464 });
    expect(result.config.issues).toEqual({ source: 'local', local: { dir: 'examples/backlog', pollIntervalMs: 2_000 } });
    expect(result.config.workflow).toMatchObject({ triggerLabel: 'miyabi', trust: { associations: ['OWNER', 'MEMBER', 'COLLABORATOR'], allow: [], bots: [] } });
    expect(Object.keys(result.config.agents)).toEqual(['conductor', 'codegen', 'review', 'pr', 'deploy']);
    expect(result.config.agents.codegen).toMatchObject({ displayName: 'カエデ Kaede', min: 1, max: 1 });
  });

  it('accepts a good file and keeps what it says', () => {
    const result = parseConfigText(
      [
        'nats:',
        '  urls: [nats://a:4222, tls://b:4222]',
        '  auth: { tokenEnv: NATS_TOKEN }',
        'bus: { storage: memory, maxDeliver: 3 }',
        'supervisor:',
        '  backoff: { minMs: 50 }',
        'issues:',
        '  source: github',
        '  github: { owner: acme, repo: widgets }',
        'agents:',
        '  codegen: { command: [claude, -p, "{prompt}"], max: 3 }',
        '  triage: { command: [./triage], displayName: Triage }',
      ].join('\n'),
      'good.yaml',
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const { config } = result;
    expect(config.nats.urls).toEqual(['nats://a:4222', 'tls://b:4222']);
    expect(config.bus).toMatchObject({ storage: 'memory', maxDeliver: 3, ackWaitMs: 30_000 });
    expect(config.supervisor.backoff).toEqual({ minMs: 50, maxMs: 30_000, randomFactor: 0.2 });
    expect(config.issues.github).toEqual({
      owner: 'acme',
      repo: 'widgets',
      baseUrl: 'https://api.github.com',
      tokenEnv: 'GITHUB_TOKEN',
      spaceWrites: true,
      pollIntervalMs: 60_000,
      fullPollEvery: 10,
    });
    // Giving agents replaces the default set of roles.
    expect(Object.keys(config.agents)).toEqual(['codegen', 'triage']);
    expect(config.agents.codegen).toMatchObject({ displayName: 'カエデ Kaede', max: 3, min: 0 });
    expect(config.agents.triage?.displayName).toBe('Triage');
  });

  it('names the line and column of malformed YAML', () => {
    const problems = problemsOf('http:\n  port: 9464\nlog: level: info\n');
    expect(problems).toHaveLength(1);
    expect(problems[0]!.message).toMatch(/^malformed YAML in test\.yaml at line 3, column \d+: /);
    expect(problems[0]!.line).toBe(3);
    expect(formatProblem(problems[0]!)).not.toContain('\n');
  });

  it('refuses a duplicated key instead of keeping the last one', () => {
    expect(lines('http:\n  port: 1\n  port: 2\n')[0]).toMatch(/malformed YAML .* at line 3, column 3: Map keys must be unique/);
  });

  it('names the exact path of a wrong type', () => {
    const problems = problemsOf('agents:\n  codegen:\n    command: "claude -p"\n');
    expect(problems.map(({ path, message }) => ({ path, message }))).toEqual([
      { path: 'agents.codegen.command', message: 'expected array, received string' },
    ]);
    expect(lines('agents:\n  codegen:\n    command: "claude -p"\n')).toEqual([
      'agents.codegen.command: expected array, received string (line 3)',
    ]);
  });

  it('names an unknown top-level key, with a suggestion', () => {
    expect(lines('dataDri: /tmp/x\n')).toEqual(['dataDri: unknown key (did you mean "dataDir"?) (line 1)']);
    expect(lines('colour: blue\n')).toEqual(['colour: unknown key (line 1)']);
  });

  it('names an unknown nested key', () => {
    expect(lines('bus:\n  maxDeliver: 5\n  ack_wait_ms: 1000\n')).toEqual([
      'bus.ack_wait_ms: unknown key (did you mean "ackWaitMs"?) (line 3)',
    ]);
    expect(lines('agents:\n  codegen:\n    comand: [x]\n')).toEqual([
      'agents.codegen.command: required (expected array) (line 2)',
      'agents.codegen.comand: unknown key (did you mean "command"?) (line 3)',
    ]);
  });

  it('reports every problem at once, in file order, one line each', () => {
    const text = [
      'dataDir: ""',
      'nats:',
      '  urls: [http://x]',
      '  auth: { tokenEnv: "$NATS_TOKEN" }',
      'bus: { storage: disk, maxDeliver: 0 }',
      'http: { port: 70000, enabled: "yes" }',
      'log: { level: verbose }',
      'supervisor: { backoff: { minMs: 500, maxMs: 100 } }',
      'issues: { source: github }',
      'agents:',
      '  codegen: { command: [], min: 2, max: 1 }',
      '  Review: { command: [x] }',
      'extra: 1',
    ].join('\n');
    expect(lines(text)).toEqual([
      'dataDir: expected a non-empty string (line 1)',
      'nats.urls[0]: expected a NATS URL like nats://host:4222 (schemes nats, tls, ws, wss) or host:port (line 3)',
      'nats.auth.tokenEnv: expected the name of an environment variable, like NATS_TOKEN (line 4)',
      'bus.storage: expected one of "file", "memory", received "disk" (line 5)',
      'bus.maxDeliver: expected a number >= 1, received 0 (line 5)',
      'http.port: expected a number <= 65535, received 70000 (line 6)',
      'http.enabled: expected boolean, received string (line 6)',
      'log.level: expected one of "fatal", "error", "warn", "info", "debug", "trace", "silent", received "verbose" (line 7)',
      'supervisor.backoff.maxMs: must be >= minMs (500) (line 8)',
      'issues.github: required when issues.source is "github" (line 9)',
      'agents.codegen.command: expected at least 1 item(s) (line 11)',
      'agents.codegen.min: must be <= max (1) (line 11)',
      'agents.Review: expected a role name of lowercase letters, digits and dashes (line 12)',
      'extra: unknown key (line 13)',
    ]);
  });

  it('refuses GitHub issues for health problems without the github source', () => {
    expect(lines('notify:\n  githubIssues:\n    enabled: true\n')).toEqual([
      'notify.githubIssues.enabled: needs issues.source: github (the issues are opened on that repository) (line 3)',
    ]);
  });

  it('checks pairs that only make sense together', () => {
    expect(lines('nats:\n  auth: { userEnv: U }\n  tls: { keyFile: k.pem }\n')).toEqual([
      'nats.auth.passwordEnv: userEnv and passwordEnv go together (line 2)',
      'nats.tls.certFile: certFile and keyFile go together (line 3)',
    ]);
    expect(lines('nats:\n  auth: { tokenEnv: T, credsFileEnv: C }\n')).toEqual([
      'nats.auth: choose one of user/password, token, credentials file or identities (line 2)',
    ]);
    expect(lines('agents:\n  codegen: { command: [x], min: 3, max: 2 }\n')).toEqual([
      'agents.codegen.min: must be <= max (2) (line 2)',
    ]);
  });

  it('refuses a log redact path pino could not compile', () => {
    expect(lines('log:\n  redact: ["*.apiKey", "a..b"]\n')).toEqual([
      'log.redact[1]: expected a field path like "*.apiKey" or \'headers["x-api-key"]\' (line 2)',
    ]);
  });

  it('says what a file that is not a mapping holds', () => {
    expect(lines('- a\n- b\n')).toEqual(['the file must hold a mapping of settings, received array']);
  });

  it('refuses a text over 1 MiB at once, and reads one of exactly 1 MiB', () => {
    const comment = (bytes: number) => `# ${'x'.repeat(bytes - 3)}\n`;
    expect(lines(comment(MAX_CONFIG_BYTES + 1))).toEqual(['test.yaml is 1.0 MiB; a config may be at most 1 MiB']);
    expect(parseConfigText(comment(MAX_CONFIG_BYTES), 'test.yaml').ok).toBe(true);
  });

  it('refuses aliases that expand without bound, naming the line of the first alias', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
    ].join('\n');
    const [problem, ...rest] = problemsOf(bomb);
    expect(rest).toEqual([]);
    expect(problem).toMatchObject({ line: 2, column: 8 });
    expect(problem!.message).toContain('aliases may expand to at most 100 nodes');
  });

  it('reports the first hundred of twenty thousand unknown keys with their lines, then how many more', () => {
    const keys = Array.from({ length: 20_000 }, (_, index) => `k${index}: 1`);
    keys.push('k7: 2');
    const problems = problemsOf(keys.join('\n'));
    // The repeated key is found in a mapping this large, as in a small one.
    expect(problems.map(formatProblem)).toEqual([expect.stringMatching(/line 20001, column 1: Map keys must be unique/)]);
    keys.pop();
    const unknown = problemsOf(keys.join('\n'));
    expect(unknown).toHaveLength(101);
    expect(unknown.slice(0, 100).map((problem) => problem.line)).toEqual(keys.slice(0, 100).map((_, index) => index + 1));
    expect(formatProblem(unknown[100]!)).toBe('… and 19900 more problems');
  });
});
