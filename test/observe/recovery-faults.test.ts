/**
 * `miyabi_recovery_seconds{fault}` (the MTTR KPI) after real faults of a running orchestra, one
 * per kind of docs/METRICS.md, each observed under its own label once its work runs again:
 *
 *   pane_died       an agent's tmux pane killed with `tmux kill-pane` (private socket)
 *   heartbeat_lost  an agent's runner silenced (SIGUSR2: it stops its heartbeats, as if wedged)
 *   timeout         a task's agent hanging past its role's timeout: its runner stops it, and the
 *                   retry running again is the recovery
 *   actor_crash     an actor throwing under its supervisor, and the embedded nats-server killed
 *   nats_reconnect  the bus connection lost with that nats-server, back when it is restarted
 *
 * The faults come one after the other on one orchestra (the tmux backend); each test waits on the
 * metric, and checks that the faults before it were not counted again.
 */
import { execa } from 'execa';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyActorRef } from 'xstate';
import { processAlive } from '../../src/infra/os/process.ts';
import { FAULTS, type Fault } from '../../src/infra/observe/metrics.ts';
import { fromRuntime, type ChildSpec } from '../../src/supervisor/index.ts';
import { repoRoot } from '../support/cli.ts';
import { kpisOf } from '../support/kpi.ts';
import { startTestOrchestra, waitAgentReady, type TestOrchestra } from '../support/orchestra.ts';
import { scrapeSeries } from '../support/scrape.ts';
import { waitFor } from '../support/wait.ts';
import { issueFile, waitForState } from '../support/workflow-run.ts';

// A role of the test's own has no shipped prompt template: it borrows codegen's.
const prompt = resolve(repoRoot, 'config/prompts/codegen.md');
// Attempt 1 hangs until it is killed; later attempts succeed at once.
const hangOnce = ['node', resolve(repoRoot, 'test/panes/fixtures/hang-once.mjs')];

/** An actor that throws when told to (`test.throw`), and otherwise just runs. */
const thrower: ChildSpec = {
  id: 'thrower',
  logic: fromRuntime((_input: undefined, controls) => {
    controls.setState('running', { ready: true });
    return {
      shutdown: () => controls.done(),
      kill: () => undefined,
      receive: (event) => {
        if (event.type === 'test.throw') controls.fail(new Error('thrown by the test'));
      },
    };
  }),
  restart: 'permanent',
};

describe('miyabi_recovery_seconds after real faults', { timeout: 120_000 }, () => {
  let test: TestOrchestra;
  const counts = async (): Promise<Record<Fault, number | undefined>> => {
    const series = await scrapeSeries(test.orchestra.resources.httpUrl!);
    return Object.fromEntries(FAULTS.map((fault) => [fault, series.get(`miyabi_recovery_seconds_count{fault="${fault}"}`)])) as Record<Fault, number | undefined>;
  };
  /** Waits until the fault's histogram counted `count` recoveries; answers all the counts then. */
  const recovered = async (fault: Fault, count: number) => {
    await waitFor(async () => (await counts())[fault] === count, { timeoutMs: 60_000, what: `${count} recovery(ies) from ${fault}` });
    return counts();
  };
  const agent = (): AnyActorRef => test.orchestra.root()!.childSupervisor('agents')!.childSupervisor('pool.codegen')!.childActor('codegen-1')!;
  const runnerPid = () => (agent().getSnapshot() as { context: { pid?: number } }).context.pid;
  const natsPid = () =>
    (test.orchestra.root()!.childSupervisor('broker')?.childActor('nats-server')?.getSnapshot() as { context?: { detail?: { pid?: number } } } | undefined)?.context?.detail
      ?.pid;

  beforeAll(async () => {
    test = await startTestOrchestra({
      backend: 'tmux',
      agents: {
        codegen: { command: ['node', join(repoRoot, 'test/support/agents/codegen.mjs'), 'plain'], min: 1, max: 1 },
        // No sandbox: the fixture writes beside the task file.
        hang: { command: hangOnce, min: 1, max: 1, taskTimeoutMs: 1_500, graceMs: 500, prompt, isolation: { sandbox: 'off' } },
      },
      config: {
        http: { enabled: true, port: 0 },
        panes: { scaleIntervalMs: 3_600_000 },
        workflow: { defaultRoute: ['codegen'], routes: [{ label: 'slow', stages: ['hang'] }] },
      },
    });
    await waitAgentReady(test, 'codegen', 'codegen-1');
    await waitAgentReady(test, 'hang', 'hang-1');
  }, 120_000);
  afterAll(async () => {
    await test?.stop();
  });

  it('has a series for every fault from the start, at 0', async () => {
    expect(await counts()).toEqual({ pane_died: 0, heartbeat_lost: 0, timeout: 0, nats_reconnect: 0, nats_stalled: 0, actor_crash: 0 });
  });

  it('observes pane_died when the agent\'s tmux pane is killed, once the new runner is ready', async () => {
    const pid = runnerPid();
    const panes = await execa('tmux', ['-L', test.socket, 'list-panes', '-a', '-F', '#{pane_id} #{pane_pid}']);
    const pane = panes.stdout.split('\n').map((line) => line.split(' ')).find(([, panePid]) => Number(panePid) === pid)?.[0];
    expect(pane, `a pane of runner ${pid} in\n${panes.stdout}`).toBeDefined();
    await execa('tmux', ['-L', test.socket, 'kill-pane', '-t', pane!]);
    expect(await recovered('pane_died', 1)).toEqual({ pane_died: 1, heartbeat_lost: 0, timeout: 0, nats_reconnect: 0, nats_stalled: 0, actor_crash: 0 });
    expect(runnerPid()).not.toBe(pid);
  });

  it('observes heartbeat_lost when the runner stops its heartbeats', async () => {
    await waitAgentReady(test, 'codegen', 'codegen-1');
    const silenced = runnerPid()!;
    process.kill(silenced, 'SIGUSR2');
    expect(await recovered('heartbeat_lost', 1)).toEqual({ pane_died: 1, heartbeat_lost: 1, timeout: 0, nats_reconnect: 0, nats_stalled: 0, actor_crash: 0 });
    // Its supervisor killed the silent runner: the recovery is its replacement's.
    expect(processAlive(silenced)).toBe(false);
  });

  it('observes timeout when a task hangs past its role\'s timeout, once the task runs again', async () => {
    await writeFile(join(test.dir.path, 'issues', '1.md'), issueFile({ number: 1, labels: ['slow'] }));
    expect(await recovered('timeout', 1)).toEqual({ pane_died: 1, heartbeat_lost: 1, timeout: 1, nats_reconnect: 0, nats_stalled: 0, actor_crash: 0 });
    await waitForState(test, [1], 'done');
    // The same recovery on the bus, for `miyabi-orchestra kpi`: the task's.
    await waitFor(async () => (await kpisOf(test)).report.mttr.byFault.timeout?.count === 1, { what: 'the timeout\'s recovery on the bus' });
    const { facts } = await kpisOf(test);
    expect(facts.filter((fact) => fact.kind === 'fault' && fact.fault === 'timeout')).toEqual([expect.objectContaining({ actor: expect.stringMatching(/^task /) })]);
  });

  it('observes actor_crash when an actor throws under its supervisor, once it is restarted', async () => {
    const core = test.orchestra.root()!.childSupervisor('core')!;
    await core.startChild(thrower);
    core.childActor('thrower')!.send({ type: 'test.throw' });
    expect(await recovered('actor_crash', 1)).toEqual({ pane_died: 1, heartbeat_lost: 1, timeout: 1, nats_reconnect: 0, nats_stalled: 0, actor_crash: 1 });
    await core.terminateChild('thrower');
  });

  it('observes nats_reconnect and the server\'s actor_crash when the embedded nats-server is killed', async () => {
    const pid = natsPid()!;
    process.kill(pid, 'SIGKILL');
    await recovered('nats_reconnect', 1);
    expect(await recovered('actor_crash', 2)).toMatchObject({ nats_reconnect: 1, nats_stalled: 0, actor_crash: 2, timeout: 1 });
    expect(natsPid()).not.toBe(pid);
  });
});
