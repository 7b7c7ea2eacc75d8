/**
 * `issues`: what the running orchestra is doing with each issue — route, state, attempts,
 * duration, why it is blocked or failed — read from its KV bucket, as `up --once` prints it.
 */
import { summaryRow } from '../../workflow/summary.ts';
import { loadConfigOrExit } from '../connect.ts';
import { CliExit, ExitCode, renderSummary } from '../output.ts';
import { orchestraRecords } from './dag.ts';

export async function issues(flags: { config?: string; json?: boolean }): Promise<number> {
  const loaded = await loadConfigOrExit(flags.config);
  const records = await orchestraRecords(loaded);
  if (records === undefined) throw new CliExit(ExitCode.failure, `no orchestra is running (data directory ${loaded.config.dataDir})`);
  const rows = records.map((record) => summaryRow(record, record.snapshot as Parameters<typeof summaryRow>[1]));
  process.stdout.write(flags.json ? `${JSON.stringify(rows, null, 2)}\n` : renderSummary(rows));
  return ExitCode.ok;
}
