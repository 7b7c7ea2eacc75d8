/**
 * The service manager's protocol against a real unix datagram socket standing in for systemd
 * (test/support/notify-socket.ts), sent through the real `systemd-notify`, over a real supervisor
 * tree: READY and STATUS as told, WATCHDOG=1 while the tree answers, none while the root's
 * mailbox (or a nested supervisor's) is wedged or the root has failed, STOPPING=1 on a stop.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { takeNotifyEnvironment, type WatchdogTick } from '../../src/infra/os/sd-notify.ts';
import { OrchestraService, treeLiveness } from '../../src/orchestra/service.ts';
import { supervisorChild } from '../../src/supervisor/index.ts';
import { tempDir, type TempDir } from '../support/cli.ts';
import { notifyListener, type NotifyListener } from '../support/notify-socket.ts';
import { waitFor } from '../support/wait.ts';
import { Journal, startTree, worker, type RunningTree } from '../supervisor/helpers.ts';

let dir: TempDir;
let listener: NotifyListener;
let tree: RunningTree | undefined;
/** Every service a test made: closed after it, so no watchdog outlives a failed test's tree. */
const services: OrchestraService[] = [];
beforeEach(async () => {
  dir = await tempDir('miyabi-notify-');
  listener = await notifyListener(dir.path);
});
afterEach(async () => {
  for (const svc of services.splice(0)) await svc.close();
  await tree?.stop();
  tree = undefined;
  await listener.close();
  await dir[Symbol.asyncDispose]();
});

function service(watchdogUsec = 200_000) {
  const svc = new OrchestraService({ NOTIFY_SOCKET: listener.path, WATCHDOG_USEC: String(watchdogUsec) });
  services.push(svc);
  return svc;
}

/** Records every watchdog decision; `since(n)` the ones after the n-th. */
function ticks() {
  const all: WatchdogTick[] = [];
  return {
    all,
    record: (tick: WatchdogTick) => all.push(tick),
    /** Waits for `count` withheld pings in a row at the end. */
    withheld: (count: number) =>
      waitFor(() => all.length >= count && all.slice(-count).every((tick) => !tick.alive), { timeoutMs: 20_000, what: `${count} withheld pings` }),
  };
}

/** Everything sent so far has been read once a marker sent after it has. */
async function drained(svc: OrchestraService, marker: string): Promise<void> {
  await svc.notifier.send([`STATUS=${marker}`]);
  await listener.waitFor(`STATUS=${marker}`);
}

describe('the environment systemd passes', () => {
  it('is read and removed, so no child inherits the socket; a watchdog for another pid is not ours', () => {
    const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1', PATH: '/bin' };
    expect(takeNotifyEnvironment(env, 4242)).toEqual({ socket: '/run/x', watchdogMs: undefined });
    expect(env).toEqual({ PATH: '/bin' });
    expect(takeNotifyEnvironment({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '4242' }, 4242)).toEqual({ socket: '/run/x', watchdogMs: 30_000 });
    expect(new OrchestraService({}).enabled).toBe(false);
  });
});

describe('notifications over a real datagram socket', { timeout: 60_000 }, () => {
  it('sends STATUS lines, READY=1, watchdog pings while the tree answers, and STOPPING=1, in order', async () => {
    const journal = new Journal();
    tree = await startTree({ id: 'root', strategy: 'one_for_one', children: [worker('a', journal)] });
    const svc = service();
    svc.progress('checking the workspace repository');
    await svc.ready('running: test', () => tree!.supervisor);
    await listener.waitFor('WATCHDOG=1', 2);
    await svc.stopping('SIGTERM');
    await svc.close('stopped');
    const sequence = listener.messages.map((message) => message.join(' ')).filter((line) => line !== 'WATCHDOG=1');
    expect(sequence).toEqual(['STATUS=checking the workspace repository', 'READY=1 STATUS=running: test', 'STOPPING=1 STATUS=stopping: SIGTERM', 'STATUS=stopped']);
    // No ping after STOPPING=1.
    const stoppingAt = listener.messages.findIndex((message) => message.includes('STOPPING=1'));
    expect(listener.messages.slice(stoppingAt).some((message) => message.includes('WATCHDOG=1'))).toBe(false);
  });

  for (const where of ['the root', 'a nested supervisor'] as const) {
    it(`withholds pings while ${where}'s mailbox is wedged, and resumes when it answers again`, async () => {
      const journal = new Journal();
      tree = await startTree({
        id: 'root',
        strategy: 'rest_for_one',
        children: [worker('a', journal), supervisorChild({ id: 'core', strategy: 'one_for_one', children: [worker('b', journal)] })],
      });
      const svc = service();
      const seen = ticks();
      await svc.ready('running', () => tree!.supervisor, { onWatchdog: seen.record });
      await listener.waitFor('WATCHDOG=1', 2);

      // A child that never becomes ready: the mailbox that starts it is stuck behind the start.
      const target = where === 'the root' ? tree.supervisor : tree.supervisor.childSupervisor('core')!;
      const starting = target.startChild(worker('stuck', journal, { startsUnready: true, startTimeoutMs: 600_000 }));
      await seen.withheld(2);
      const aliveBefore = seen.all.filter((tick) => tick.alive).length;
      await seen.withheld(4);
      expect(seen.all.filter((tick) => tick.alive).length, 'no ping while wedged').toBe(aliveBefore);
      expect(seen.all.at(-1)!.reason).toMatch(/did not answer|still running/);
      await drained(svc, 'wedged');
      expect(listener.with('WATCHDOG=1').length, 'every ping sent was an alive tick').toBe(aliveBefore);
      // Said once each time pings stop (on a loaded host a ping in flight as the wedge began may
      // still answer once in between), never at every withheld ping.
      const stops = seen.all.filter((tick, index) => !tick.alive && (index === 0 || seen.all[index - 1]!.alive));
      expect(listener.messages.flat().filter((line) => line.startsWith('STATUS=watchdog ping withheld: '))).toEqual(stops.map((tick) => `STATUS=watchdog ping withheld: ${tick.reason}`));
      expect(stops.length).toBeLessThan(seen.all.filter((tick) => !tick.alive).length);

      target.childActor('stuck')!.send({ type: 'ready' });
      await starting;
      await listener.waitFor('WATCHDOG=1', aliveBefore + 2);
      await svc.close();
    });
  }

  it('withholds pings once the root supervisor has failed', async () => {
    const journal = new Journal();
    tree = await startTree({ id: 'root', strategy: 'one_for_one', restartIntensity: 0, children: [worker('a', journal)] });
    const svc = service();
    const seen = ticks();
    await svc.ready('running', () => tree!.supervisor, { onWatchdog: seen.record });
    await listener.waitFor('WATCHDOG=1', 1);
    tree.supervisor.childActor('a')!.send({ type: 'crash' });
    await tree.failure;
    expect(await treeLiveness(tree.supervisor)).toBe('root supervisor failed');
    await seen.withheld(2);
    expect(seen.all.at(-1)!.reason).toBe('root supervisor failed');
    const alive = seen.all.filter((tick) => tick.alive).length;
    await drained(svc, 'failed');
    expect(listener.with('WATCHDOG=1').length).toBe(alive);
    await svc.close();
  });
});
