/**
 * What a run left on disk, read back by the tests that judge it afterwards (the broker-loss test,
 * the chaos suite, the soak, the growth test): the runners' task markers and a directory's size.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { TaskMarker } from '../../src/infra/panes/log.ts';
import { markersUnder } from '../../src/orchestra/cluster-progress.ts';

/** Every task start and end marker the runners wrote to their pane logs. */
export function taskMarkers(dataDir: string): Promise<TaskMarker[]> {
  return markersUnder(join(dataDir, 'logs', 'agents'));
}

/** The bytes of the regular files under `dir`, all depths. */
export async function bytesUnder(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await bytesUnder(path);
    else if (entry.isFile()) total += (await stat(path).catch(() => undefined))?.size ?? 0;
  }
  return total;
}
