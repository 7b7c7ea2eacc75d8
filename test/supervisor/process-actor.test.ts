/** OS processes under supervision: the same contract as in-process machines, with real processes. */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { processLogic, type ChildSpec, type ProcessInput, type SupervisorEvent } from '../../src/supervisor/index.ts';
import { startTree, type RunningTree } from './helpers.ts';
import { tempDir } from '../support/cli.ts';
import { waitFor } from '../support/wait.ts';

let tree: RunningTree | undefined;
afterEach(async () => {
  await tree?.stop();
  tree = undefined;
});

function nodeChild(id: string, script: string, spec: Partial<ChildSpec> = {}, input: Partial<ProcessInput> = {}): ChildSpec {
  return { id, logic: processLogic, input: { command: process.execPath, args: ['-e', script], ...input }, ...spec };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const pidOf = (running: RunningTree, id: string): number =>
  (running.supervisor.childActor(id)!.getSnapshot() as { context: { detail: { pid: number } } }).context.detail.pid;

const LONG_RUNNING = 'setInterval(() => {}, 1000)';

/** Ready once the script has printed `ready` (after installing its signal handlers). */
function readyOnLine(): Pick<ProcessInput, 'readiness' | 'onOutput'> {
  let markReady!: () => void;
  const printed = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  return { readiness: () => printed, onOutput: (line) => line === 'ready' && markReady() };
}

describe('process children', () => {
  it('restarts a permanent process killed by a signal, with a new pid, as a kill', async () => {
    tree = await startTree({ id: 'procs', strategy: 'one_for_one', children: [nodeChild('p', LONG_RUNNING)] });
    const first = pidOf(tree, 'p');
    process.kill(first, 'SIGKILL');
    const second = await waitFor(() => {
      const actor = tree!.supervisor.childActor('p');
      const pid = actor && (actor.getSnapshot() as any).context.detail?.pid;
      return pid && pid !== first && tree!.supervisor.inspect().children![0]!.status === 'running' ? pid : undefined;
    }, { what: 'new pid' });
    expect(second).not.toBe(first);
    const exit = tree.events.find((event): event is Extract<SupervisorEvent, { type: 'child.exited' }> => event.type === 'child.exited');
    expect(exit?.exit.kind).toBe('killed');
    expect((exit?.exit as { error: { code: string } }).error.code).toBe(ErrorCodes.ProcessKilled);
  });

  it('does not restart a transient process that exits 0, restarts one that exits 3', async () => {
    // The failing child leaves a marker in the test's own temp dir: its second run stays up.
    await using dir = await tempDir('miyabi-process-actor-');
    tree = await startTree({
      id: 'procs',
      strategy: 'one_for_one',
      restartIntensity: 1,
      restartPeriodMs: 60_000,
      children: [
        nodeChild('clean', 'setTimeout(() => process.exit(0), 50)', { restart: 'transient' }),
        nodeChild('failing', `
          const fs = require('node:fs');
          const marker = process.env.MARKER;
          if (!fs.existsSync(marker)) { fs.writeFileSync(marker, 'x'); setTimeout(() => process.exit(3), 50); }
          else setInterval(() => {}, 1000);
        `, { restart: 'transient' }, { env: { ...process.env, MARKER: join(dir.path, 'failed-once') } }),
      ],
    });
    await waitFor(() => tree!.events.some((e) => e.type === 'child.restarting' && e.child === 'failing') &&
      tree!.supervisor.inspect().children!.find((c) => c.id === 'failing')!.status === 'running', { what: 'failing restarted' });
    await waitFor(() => tree!.events.some((e) => e.type === 'child.exited' && e.child === 'clean'), { what: 'clean exit' });
    const exits = tree.events.filter((e): e is Extract<SupervisorEvent, { type: 'child.exited' }> => e.type === 'child.exited');
    expect(exits.find((e) => e.child === 'clean')!.exit).toEqual({ kind: 'normal' });
    expect(exits.find((e) => e.child === 'failing')!.exit.kind).toBe('crash');
    expect(tree.events.some((e) => e.type === 'child.restarting' && e.child === 'clean')).toBe(false);
  });

  it('waits for the readiness probe before starting the next child', async () => {
    const order: string[] = [];
    let releaseProbe!: () => void;
    const probe = new Promise<void>((resolve) => {
      releaseProbe = resolve;
    });
    const launched = startTree({
      id: 'ready',
      strategy: 'one_for_one',
      children: [
        nodeChild('server', LONG_RUNNING, {}, { readiness: async () => { order.push('probe'); await probe; order.push('ready'); } }),
        nodeChild('client', LONG_RUNNING, {}, { readiness: async () => { order.push('client'); } }),
      ],
    });
    await waitFor(() => order.includes('probe'), { what: 'probe called' });
    expect(order).toEqual(['probe']);
    releaseProbe();
    tree = await launched;
    expect(order).toEqual(['probe', 'ready', 'client']);
  });

  it('stops a process gracefully with SIGTERM, and SIGKILLs one that ignores it after the shutdown time', async () => {
    tree = await startTree({
      id: 'stop',
      strategy: 'one_for_one',
      children: [
        nodeChild('polite', `process.on('SIGTERM', () => process.exit(0)); console.log('ready'); ${LONG_RUNNING}`, {}, readyOnLine()),
        nodeChild('stubborn', `process.on('SIGTERM', () => {}); console.log('ready'); ${LONG_RUNNING}`, { shutdown: 200 }, readyOnLine()),
      ],
    });
    const pids = [pidOf(tree, 'polite'), pidOf(tree, 'stubborn')];
    await tree.stop();
    expect(tree.events).toContainEqual({ type: 'child.killed', supervisor: 'stop', child: 'stubborn', afterMs: 200 });
    expect(tree.events.some((e) => e.type === 'child.killed' && e.child === 'polite')).toBe(false);
    await waitFor(() => pids.every((pid) => !alive(pid)), { what: 'processes gone' });
  });

  it('kills a process that is alive but no longer serves (its liveness says so), as a crash its supervisor restarts', async () => {
    let stalls = 1;
    const pids: number[] = [];
    const liveness = async ({ pid }: { pid: number }) => {
      pids.push(pid);
      return stalls-- > 0 ? new Error('alive but not serving') : new Promise<undefined>(() => {});
    };
    tree = await startTree({
      id: 'live',
      strategy: 'one_for_one',
      children: [nodeChild('server', `process.on('SIGTERM', () => {}); console.log('ready'); ${LONG_RUNNING}`, {}, { ...readyOnLine(), liveness })],
    });
    const exit = await waitFor(() => tree!.events.find((e): e is Extract<SupervisorEvent, { type: 'child.exited' }> => e.type === 'child.exited'), { what: 'the stalled process ended' });
    expect(exit.exit.kind).toBe('crash');
    expect(String((exit.exit as { error: Error }).error.message)).toBe('alive but not serving');
    await waitFor(() => tree!.events.some((e) => e.type === 'child.started' && e.restarts === 1) || undefined, { what: 'restarted' });
    // Killed, not asked: a wedged server ignores SIGTERM.
    await waitFor(() => !alive(pids[0]!) || undefined, { what: 'the stalled process gone' });
    expect(pids).toHaveLength(2);
  });

  it('fails the start of a command that does not exist, naming it', async () => {
    await expect(
      startTree({ id: 'missing', strategy: 'one_for_one', children: [{ id: 'ghost', logic: processLogic, input: { command: '/nonexistent/miyabi-ghost' } }] }),
    ).rejects.toThrow(/ghost failed to start.*miyabi-ghost/);
  });
});
