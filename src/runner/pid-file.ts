/**
 * Each runner leaves its pid in `<dataDir>/runners/<agentId>.pid` while it runs, so an orchestra
 * starting after a `kill -9` of the previous one can find and stop the runners that outlived it
 * (a headless runner is the dead orchestra's orphan; it would go on taking tasks).
 *
 * While its agent runs, a runner also leaves the agent's process group in
 * `<dataDir>/runners/<agentId>.agent`, written synchronously at spawn: a runner killed with
 * `kill -9` cannot stop its agent, and its heartbeat naming the agent may never have left it,
 * so whoever sees the runner die stops the group recorded here.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { commandLineOf, processAlive, readProcStat } from '../infra/os/process.ts';

function runnersDir(dataDir: string): string {
  return join(dataDir, 'runners');
}

export async function writeRunnerPid(dataDir: string, agentId: string): Promise<() => Promise<void>> {
  await mkdir(runnersDir(dataDir), { recursive: true });
  const path = join(runnersDir(dataDir), `${agentId}.pid`);
  await writeFile(path, `${process.pid}\n`);
  return async () => {
    const current = await readFile(path, 'utf8').catch(() => '');
    if (Number(current) === process.pid) await rm(path, { force: true });
  };
}

function agentGroupFile(dataDir: string, agentId: string): string {
  return join(runnersDir(dataDir), `${agentId}.agent`);
}

/** Records the agent's process group, synchronously: the runner may be killed the next moment. */
export function recordAgentGroup(dataDir: string, agentId: string, pgid: number): void {
  mkdirSync(runnersDir(dataDir), { recursive: true });
  writeFileSync(agentGroupFile(dataDir, agentId), `${pgid}\n`);
}

export function clearAgentGroup(dataDir: string, agentId: string): void {
  try {
    rmSync(agentGroupFile(dataDir, agentId), { force: true });
  } catch {
    // A record left behind names a group that is gone: it is ignored, then removed, when read.
  }
}

/**
 * Kills the agent group a dead runner recorded, if that group still runs; returns its id. The
 * pid may have been reused since: only a process that still leads its own group is taken for it.
 */
export function stopRecordedAgentGroup(dataDir: string, agentId: string): number | undefined {
  // Synchronous, so that a replacement runner cannot record its own agent in between.
  const path = agentGroupFile(dataDir, agentId);
  let pgid = 0;
  try {
    pgid = Number(readFileSync(path, 'utf8'));
    rmSync(path, { force: true });
  } catch {
    return undefined;
  }
  if (!(pgid > 0) || !processAlive(pgid) || readProcStat(pgid)?.pgrp !== pgid) return undefined;
  try {
    process.kill(-pgid, 'SIGKILL');
    return pgid;
  } catch {
    return undefined;
  }
}

/** Stops runners recorded by an earlier run that are still alive, and their agents; returns their pids. */
export async function stopOrphanedRunners(dataDir: string): Promise<number[]> {
  const stopped: number[] = [];
  const files = await readdir(runnersDir(dataDir)).catch(() => [] as string[]);
  for (const file of files.filter((name) => name.endsWith('.pid'))) {
    const path = join(runnersDir(dataDir), file);
    const pid = Number(await readFile(path, 'utf8').catch(() => ''));
    const argv = pid > 0 && processAlive(pid) ? commandLineOf(pid) : [];
    if (argv.includes('pane') && (argv.includes('--agent') || argv.includes('--spare'))) {
      try {
        process.kill(pid, 'SIGKILL');
        stopped.push(pid);
      } catch {
        // gone meanwhile
      }
    }
    await rm(path, { force: true });
  }
  // After their runners, which would report a killed agent as a failed attempt.
  for (const file of files.filter((name) => name.endsWith('.agent'))) {
    const group = stopRecordedAgentGroup(dataDir, file.slice(0, -'.agent'.length));
    if (group !== undefined) stopped.push(group);
  }
  return stopped;
}
