/**
 * The configured issue source for a command that reads or writes the tracker (`dag`, `labels`,
 * `report`). Apart from ./connect.ts so that what only connects, the pane runner above all, does
 * not load the GitHub client with it.
 */
import { pino } from 'pino';
import type { LoadedConfig } from '../config/load.ts';
import { resolveSecrets } from '../config/secrets.ts';
import { createIssueSource } from '../issues/create-source.ts';
import type { IssueSource } from '../issues/source.ts';
import { CliExit, ExitCode, printProblems } from './output.ts';

/** Runs `work` with the configured issue source, closed afterwards; a missing secret exits 2 naming it. */
export async function withIssueSource<T>(loaded: LoadedConfig, work: (source: IssueSource) => Promise<T>): Promise<T> {
  const { secrets, problems } = resolveSecrets(loaded.config);
  if (problems.length > 0) {
    printProblems(loaded.path, problems);
    throw new CliExit(ExitCode.invalid, '');
  }
  const source = createIssueSource(loaded.config, secrets, pino({ level: 'silent' }));
  try {
    return await work(source);
  } finally {
    await source.close();
  }
}
