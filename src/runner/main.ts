/**
 * Entry of the pane runner alone (`pane --agent ID --role ROLE`), bundled on its own so that a
 * runner loads only what it uses: no supervisor, metrics, HTTP or bundler. Starting fast is what
 * replacing a dead agent mostly waits for.
 */
import { parseArgs } from 'node:util';
import { pane } from '../cli/commands/pane.ts';
import { CliExit } from '../cli/output.ts';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== 'pane'),
  options: { agent: { type: 'string' }, role: { type: 'string' }, spare: { type: 'string' }, config: { type: 'string', short: 'c' } },
  strict: true,
});

pane(values).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof CliExit) {
      if (error.message) process.stderr.write(`${error.message}\n`);
      process.exit(error.exitCode);
    }
    process.stderr.write(`miyabi-orchestra pane: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
