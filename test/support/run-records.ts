/**
 * What a run left on disk, read back by the tests that judge it afterwards (the broker-loss test,
 * the chaos suite, the soak, the growth test): the runners' task markers and a directory's size.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseMarker, type TaskMarker } from '../../src/infra/panes/log.ts';

/** Every task start and end marker the runners wrote to their pane logs. */
export async function taskMarkers(dataDir: string): Promise<TaskMarker[]> {
  const root = join(dataDir, 'logs', 'agents');
  const markers: TaskMarker[] = [];
  for (const agentId of await readdir(root).catch(() => [] as string[])) {
    for (const file of (await readdir(join(root, agentId)).catch(() => [] as string[])).sort()) {
      const text = await readFile(join(root, agentId, file), 'utf8').catch(() => '');
      for (const line of text.split('\n')) {
        const marker = parseMarker(line);
        if (marker) markers.push(marker);
      }
    }
  }
  return markers;
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
