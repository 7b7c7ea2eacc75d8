/**
 * Least privilege for agents (`agents.<role>.isolation`): the argv that runs an agent as another
 * Unix user or in a systemd scope with limits; and, where the host allows it (root, `runuser`, a
 * `nobody` user), a real agent run as `nobody` that cannot read the data directory's secrets nor
 * signal the orchestra's process.
 */
import { execa } from 'execa';
import { chmod, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isolatedArgv } from '../../src/agents/isolation.ts';
import { runAgent } from '../../src/agents/run-agent.ts';
import { configSchema } from '../../src/config/schema.ts';
import { identityFile } from '../../src/infra/nats/identities.ts';
import { dataDirMode, markerKey, prepareDataDir, secretsDir } from '../../src/orchestra/installation.ts';
import { natsIdentityDir, prepareNatsAuth } from '../../src/orchestra/nats-auth.ts';
import { runFilePath, writeRunFile } from '../../src/orchestra/run-file.ts';
import { sandbox, taskFor } from '../agents/helpers.ts';

const argv = ['node', 'agent.mjs', '--task', '/data/tasks/t/task.json'];

describe('isolation argv', () => {
  it('runs the agent as another user: runuser as root, else sudo without a prompt, keeping only the variables it needs', () => {
    expect(isolatedArgv(argv, { user: 'agent' }, ['PATH', 'HOME', 'ANTHROPIC_API_KEY'], { isRoot: true })).toEqual(['runuser', '-u', 'agent', '--', ...argv]);
    expect(isolatedArgv(argv, { user: 'agent' }, ['PATH', 'HOME', 'ANTHROPIC_API_KEY'], { isRoot: false })).toEqual([
      'sudo',
      '-n',
      '-H',
      '-u',
      'agent',
      '--preserve-env=PATH,ANTHROPIC_API_KEY',
      '--',
      ...argv,
    ]);
  });

  it('runs it in a systemd scope with limits, as that user when both are asked', () => {
    const systemd = { memoryMax: '4G', cpuQuota: '200%', tasksMax: 256 };
    const scope = ['systemd-run', '--user', '--scope', '--quiet', '--collect', '-p', 'MemoryMax=4G', '-p', 'CPUQuota=200%', '-p', 'TasksMax=256', '--'];
    expect(isolatedArgv(argv, { systemd }, [], { isRoot: false })).toEqual([...scope, ...argv]);
    expect(isolatedArgv(argv, { user: 'agent', systemd }, [], { isRoot: true })).toEqual(['runuser', '-u', 'agent', '--', ...scope, ...argv]);
    expect(isolatedArgv(argv, undefined, [])).toEqual(argv);
  });

  it('opens the data directory to traversal only when some role runs as another user', () => {
    expect(dataDirMode({ agents: { codegen: { isolation: { user: 'agent' } } } } as never)).toBe(0o711);
    expect(dataDirMode({ agents: { codegen: {} } } as never)).toBe(0o700);
  });
});

const host = await (async () => {
  if (process.getuid?.() !== 0) return 'not root';
  if ((await execa('runuser', ['--version'], { reject: false })).exitCode !== 0) return 'no runuser';
  if ((await execa('id', ['nobody'], { reject: false })).exitCode !== 0) return 'no nobody user';
  return undefined;
})();

describe.skipIf(host !== undefined)(`an agent run as nobody${host ? ` (skipped: ${host})` : ''}`, () => {
  it("cannot read the orchestra's secrets, run file or logs, nor signal its process, in the data directory the orchestra laid out", async () => {
    await using box = await sandbox();
    // The sandbox is private to root; what nobody must reach of it (the fixture is in the repo) it can.
    await chmod(box.root, 0o755);
    await chmod(join(box.root, 'worktrees'), 0o755);
    await chmod(box.worktree, 0o755);
    // The data directory as `up` makes it when a role runs as another user.
    const config = configSchema.parse({ dataDir: box.dataDir, agents: { codegen: { command: ['true'], isolation: { user: 'nobody' } } } });
    await prepareDataDir(config);
    await markerKey(box.dataDir);
    await prepareNatsAuth(config, { repair: true });
    await writeRunFile(box.dataDir, { pid: process.pid, startedAt: new Date().toISOString(), natsUrl: 'nats://127.0.0.1:4222', configPath: '/etc/miyabi.yaml' });
    await writeFile(join(box.dataDir, 'logs', 'orchestra.log'), '{}\n');
    expect(((await stat(box.dataDir)).mode & 0o777).toString(8)).toBe('711');
    const targets = [
      join(secretsDir(box.dataDir), 'marker.key'),
      identityFile(natsIdentityDir(box.dataDir), 'orchestrator'),
      identityFile(natsIdentityDir(box.dataDir), 'operator'),
      runFilePath(box.dataDir),
      join(box.dataDir, 'logs', 'orchestra.log'),
    ];
    const lines: string[] = [];
    const run = await runAgent({
      agent: {
        command: [process.execPath, join(import.meta.dirname, 'fixtures', 'probe-agent.mjs'), String(process.pid), ...targets],
        taskTimeoutMs: 20_000,
        isolation: { user: 'nobody' },
      },
      task: taskFor(box, 'codegen'),
      dataDir: box.dataDir,
      onOutput: (line) => lines.push(line),
    });
    expect(run.status, `${run.reason}\n${lines.join('\n')}`).toBe('success');
    expect(lines).toEqual(['user: nobody', ...targets.map((file) => `read ${file}: EACCES`), 'signal: EPERM', 'home: /nonexistent']);
  });
});
