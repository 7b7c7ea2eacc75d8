/**
 * workflow.dependenciesFile: extra dependency edges, read once at start (and by `config check`).
 * Its problems are config problems: they name the field, the file and the line. An entry naming
 * an issue of another repository is not one: it is ignored, and `ignored` says so (a message
 * naming the file and the line) for the caller to log (`up`) or print as a warning
 * (`config check`, `dag`).
 */
import { readFile } from 'node:fs/promises';
import type { ConfigProblem } from '../config/problems.ts';
import type { OrchestraConfig } from '../config/schema.ts';
import { parseDependencyFile } from '../issues/dependencies.ts';
import { trackerRepository } from './issue-dependencies.ts';

export type DependencyFileResult =
  | { ok: true; dependencies: ReadonlyMap<number, readonly number[]> | undefined; ignored: string[] }
  | { ok: false; problems: ConfigProblem[] };

export async function loadDependencyFile(config: Pick<OrchestraConfig, 'workflow' | 'issues'>): Promise<DependencyFileResult> {
  const file = config.workflow.dependenciesFile;
  if (file === undefined) return { ok: true, dependencies: undefined, ignored: [] };
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    return { ok: false, problems: [{ path: 'workflow.dependenciesFile', message: `cannot read ${file}: ${(error as Error).message}` }] };
  }
  const parsed = parseDependencyFile(text, file, trackerRepository(config));
  if ('problems' in parsed) {
    return {
      ok: false,
      // The messages already name the file and the place (`deps.yaml:3:1: …`).
      problems: parsed.problems.map((problem) => ({ path: 'workflow.dependenciesFile', message: problem.message })),
    };
  }
  return { ok: true, dependencies: parsed.dependencies, ignored: parsed.ignored.map((entry) => entry.message) };
}
