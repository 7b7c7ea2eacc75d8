/**
 * An agent's CPU and memory (miyabi_agent_cpu_seconds_total, miyabi_agent_resident_bytes) are its
 * whole process tree's, read from /proc: the runner and, under it, the agent program. Here a
 * shell stands for the runner and a Node process under it, which burns CPU, for the agent.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { processTable, processTreeUsage } from '../../src/infra/os/usage.ts';
import { waitFor } from '../support/wait.ts';

const BURN = "const end = Date.now() + 300; while (Date.now() < end); console.log('burnt'); setInterval(() => {}, 1000);";

let group: number | undefined;
afterEach(() => {
  if (group !== undefined) process.kill(-group, 'SIGKILL');
  group = undefined;
});

function ownTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function residentOf(pid: number): number {
  return Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}

describe('an agent process tree\'s usage', () => {
  it('counts the agent program under the runner: its CPU and its memory', async () => {
    // `sh -c '… ; wait'` stays the parent (no exec of its last command), like a runner over its agent.
    const runner = spawn('sh', ['-c', `node -e "${BURN}" & wait`], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
    group = runner.pid!;
    let output = '';
    runner.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor(() => output.includes('burnt'), { timeoutMs: 30_000, what: 'the agent program to burn its CPU' });
    const table = processTable();
    const agent = [...table].find(([, entry]) => entry.ppid === runner.pid)?.[0];
    expect(agent, 'the agent program under the runner').toBeDefined();
    // CPU only grows: the agent's own, read first, is within the tree's, read after.
    const agentTicks = ownTicks(agent!);
    const runnerTicks = ownTicks(runner.pid!);
    const usage = processTreeUsage(runner.pid!, table)!;
    expect(agentTicks, 'the agent program used CPU').toBeGreaterThan(runnerTicks);
    expect(usage.cpuSeconds).toBeGreaterThanOrEqual((agentTicks + runnerTicks) / 100);
    // Memory moves both ways, so by its size: a shell holds a few MiB, a Node program tens; the
    // tree holds far more than the shell alone, as much as the agent holds.
    expect(usage.residentBytes).toBeGreaterThan(4 * residentOf(runner.pid!));
    expect(processTreeUsage(runner.pid!)!.residentBytes).toBeGreaterThan(processTreeUsage(agent!)!.residentBytes / 2);
  });

  it('is undefined for a process that is gone', () => {
    expect(processTreeUsage(2 ** 22 + 1)).toBeUndefined();
  });
});
