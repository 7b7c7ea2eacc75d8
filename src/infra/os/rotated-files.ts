/**
 * Size rotation's file shuffle, shared by the orchestra's and runners' logs
 * (src/infra/observe/rotating-file.ts) and the agents' pane logs (src/infra/panes/log.ts):
 * `file` → `file.1` → `file.2` … → `file.<maxFiles>`, the one past it deleted; with `maxFiles` 0 the
 * file is only deleted. The caller closes the file first and opens a fresh `file` after.
 */
import { existsSync, renameSync, rmSync } from 'node:fs';

export function shiftRotatedFiles(file: string, maxFiles: number): void {
  if (maxFiles <= 0) {
    rmSync(file, { force: true });
    return;
  }
  rmSync(`${file}.${maxFiles}`, { force: true });
  for (let n = maxFiles - 1; n >= 1; n--) {
    if (existsSync(`${file}.${n}`)) renameSync(`${file}.${n}`, `${file}.${n + 1}`);
  }
  renameSync(file, `${file}.1`);
}
