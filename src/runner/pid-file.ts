/**
 * Each runner leaves its pid in `<dataDir>/runners/<agentId>.pid` while it runs, so an orchestra
 * starting after a `kill -9` of the previous one can find and stop the runners that outlived it
 * (a headless runner is the dead orchestra's orphan; it would go on taking tasks).
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { commandLineOf, processAlive } from '../infra/os/process.ts';

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

/** Stops runners recorded by an earlier run that are still alive; returns their pids. */
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
  return stopped;
}
