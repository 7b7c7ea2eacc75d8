/**
 * `machines [--format mermaid|json] [--machine ID]`: every state machine of src/machines drawn
 * from its definition, offline (no orchestra needed): mermaid `stateDiagram-v2` text, one
 * diagram per machine after a `%% <id>` comment line, or the JSON definitions `/api/machines`
 * serves.
 */
import { machineDefinitions } from '../../machines/catalog.ts';
import { toMermaid } from '../../machines/diagram.ts';
import { CliExit, ExitCode } from '../output.ts';

export function machines(flags: { format?: string; machine?: string }): number {
  const format = flags.format ?? 'mermaid';
  if (format !== 'mermaid' && format !== 'json') throw new CliExit(ExitCode.invalid, `--format must be mermaid or json (got ${format})`);
  const all = machineDefinitions();
  const chosen = flags.machine === undefined ? all : all.filter((machine) => machine.id === flags.machine);
  if (chosen.length === 0) {
    throw new CliExit(ExitCode.invalid, `no machine ${flags.machine}; known: ${all.map((machine) => machine.id).join(', ')}`);
  }
  if (format === 'json') {
    process.stdout.write(`${JSON.stringify({ machines: chosen }, null, 2)}\n`);
  } else {
    process.stdout.write(chosen.map((machine) => `%% ${machine.id}\n${toMermaid(machine)}`).join('\n'));
  }
  return ExitCode.ok;
}
