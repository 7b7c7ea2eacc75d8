/**
 * A runner records its agent's process group when it spawns it, so the agent of a runner killed
 * with `kill -9` is stopped even when the runner's heartbeat naming it never left the runner.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { processAlive } from '../../src/infra/os/process.ts';
import { clearAgentGroup, recordAgentGroup, stopOrphanedRunners, stopRecordedAgentGroup } from '../../src/runner/pid-file.ts';
import { waitFor } from '../support/wait.ts';

let dataDir: string;
const children: ChildProcess[] = [];

/** A shell leading a group of its own, with a child of its own in the group. */
function agentGroup(): ChildProcess {
  const child = spawn('sh', ['-c', 'sleep 300 & wait'], { detached: true, stdio: 'ignore' });
  children.push(child);
  return child;
}

/** A process in the test's own group, as a pid reused by an unrelated program would be. */
function groupMember(): ChildProcess {
  const child = spawn('sleep', ['300'], { stdio: 'ignore' });
  children.push(child);
  return child;
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'miyabi-agent-group-'));
});
afterEach(() => {
  for (const child of children.splice(0)) {
    try {
      // A group leader's whole group; anything else alone.
      process.kill(child.spawnargs[0] === 'sh' ? -child.pid! : child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('the agent process group a runner records', () => {
  it('is killed whole by whoever sees the runner die, and the record is removed', async () => {
    const agent = agentGroup();
    recordAgentGroup(dataDir, 'codegen-1', agent.pid!);
    expect(stopRecordedAgentGroup(dataDir, 'codegen-1')).toBe(agent.pid);
    await waitFor(() => !processAlive(agent.pid!), { what: 'agent stopped' });
    expect(existsSync(join(dataDir, 'runners', 'codegen-1.agent'))).toBe(false);
  });

  it('is left alone once the runner cleared it at the end of the task', () => {
    const agent = agentGroup();
    recordAgentGroup(dataDir, 'codegen-2', agent.pid!);
    clearAgentGroup(dataDir, 'codegen-2');
    expect(stopRecordedAgentGroup(dataDir, 'codegen-2')).toBeUndefined();
    expect(processAlive(agent.pid!)).toBe(true);
  });

  it('is not taken for a reused pid: a process that does not lead its own group is not killed', () => {
    const other = groupMember();
    recordAgentGroup(dataDir, 'codegen-3', other.pid!);
    expect(stopRecordedAgentGroup(dataDir, 'codegen-3')).toBeUndefined();
    expect(processAlive(other.pid!)).toBe(true);
    expect(existsSync(join(dataDir, 'runners', 'codegen-3.agent'))).toBe(false);
  });

  it('is stopped at start-up with the runners an earlier orchestra left', async () => {
    const agent = agentGroup();
    recordAgentGroup(dataDir, 'review-1', agent.pid!);
    expect(await stopOrphanedRunners(dataDir)).toEqual([agent.pid]);
    await waitFor(() => !processAlive(agent.pid!), { what: 'orphaned agent stopped' });
  });
});
