/**
 * What the bench agents noted (bench/fixtures/stamps.mjs), read back from the task directories,
 * and the quantile the benches that read them report.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Stamp {
  event: 'start' | 'end';
  at: number;
  issue: number;
  stage: string;
}

/** Every stamp the agents left in their task directories (none yet: none). */
export async function readStamps(dataDir: string): Promise<Stamp[]> {
  const tasks = join(dataDir, 'tasks');
  const stamps: Stamp[] = [];
  for (const dir of await readdir(tasks).catch(() => [] as string[])) {
    const text = await readFile(join(tasks, dir, 'bench-stamps.jsonl'), 'utf8').catch(() => '');
    for (const line of text.split('\n').filter(Boolean)) stamps.push(JSON.parse(line) as Stamp);
  }
  return stamps;
}

/** Linear interpolation between the nearest ranks (R's type 7); 0 for no values. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const position = q * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
}
