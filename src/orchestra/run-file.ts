/**
 * The run file (`<dataDir>/orchestra.json`) tells the CLI where a running orchestra is. It is
 * written when the tree is up and removed on a clean stop; one left behind by a killed orchestra
 * is recognised as stale because its pid is gone (or is no longer an orchestra). Mode 0600, and
 * never a credential in it: the CLI reads the operator's identity from `<dataDir>/secrets`.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { commandLineOf, processAlive } from '../infra/os/process.ts';

export const runFileSchema = z.object({
  pid: z.number().int().positive(),
  startedAt: z.string(),
  natsUrl: z.string(),
  /** The embedded nats-server's pid, so a later `up` can stop one orphaned by `kill -9`. */
  natsServerPid: z.number().int().positive().optional(),
  natsStoreDir: z.string().optional(),
  httpUrl: z.string().optional(),
  configPath: z.string(),
});

export type RunFile = z.infer<typeof runFileSchema>;

export type RunFileState =
  | { kind: 'absent' }
  | { kind: 'live'; runFile: RunFile }
  | { kind: 'stale'; runFile: RunFile | undefined; reason: string };

export function runFilePath(dataDir: string): string {
  return join(dataDir, 'orchestra.json');
}

export async function writeRunFile(dataDir: string, runFile: RunFile): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  const path = runFilePath(dataDir);
  const temporary = `${path}.${process.pid}.tmp`;
  // Private: it says where the bus is, and nobody else needs to know (docs/SECURITY.md).
  await writeFile(temporary, `${JSON.stringify(runFile, null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, path);
}

export async function removeRunFile(dataDir: string, pid = process.pid): Promise<void> {
  // Only our own: a second orchestra refused at start must not delete the first one's file.
  const state = await readRunFile(dataDir);
  if (state.kind !== 'absent' && (state.runFile === undefined || state.runFile.pid === pid)) {
    await rm(runFilePath(dataDir), { force: true });
  }
}

export async function readRunFile(dataDir: string): Promise<RunFileState> {
  let text: string;
  try {
    text = await readFile(runFilePath(dataDir), 'utf8');
  } catch {
    return { kind: 'absent' };
  }
  let parsed: RunFile;
  try {
    parsed = runFileSchema.parse(JSON.parse(text));
  } catch (error) {
    return { kind: 'stale', runFile: undefined, reason: `unreadable run file: ${String(error)}` };
  }
  if (!processAlive(parsed.pid)) return { kind: 'stale', runFile: parsed, reason: `pid ${parsed.pid} is not running` };
  if (!commandLineOf(parsed.pid).some((arg) => arg.includes('miyabi-orchestra') || arg.includes('src/cli/main.ts'))) {
    return { kind: 'stale', runFile: parsed, reason: `pid ${parsed.pid} is not a miyabi-orchestra process` };
  }
  return { kind: 'live', runFile: parsed };
}
