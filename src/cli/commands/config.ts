/** `config check` validates a config file; `config schema` prints or writes its JSON Schema. */
import { renderConfigSchema, writeConfigSchema } from '../../config/json-schema.ts';
import { resolveSecrets } from '../../config/secrets.ts';
import { formatProblem } from '../../config/problems.ts';
import { loadConfigOrExit } from '../connect.ts';
import { ExitCode } from '../output.ts';

export async function configCheck(flags: { config?: string }): Promise<number> {
  const loaded = await loadConfigOrExit(flags.config);
  const { problems } = resolveSecrets(loaded.config);
  if (problems.length > 0) {
    process.stderr.write(`config ${loaded.path} is valid, but secrets it names are missing:\n`);
    for (const problem of problems) process.stderr.write(`${formatProblem(problem)}\n`);
    return ExitCode.invalid;
  }
  process.stdout.write(`config OK: ${loaded.path}${loaded.isDefault ? ' (embedded default)' : ''}\n`);
  return ExitCode.ok;
}

export async function configSchema(flags: { write?: boolean }): Promise<number> {
  if (flags.write) {
    for (const path of await writeConfigSchema()) process.stdout.write(`wrote ${path}\n`);
  } else {
    process.stdout.write(renderConfigSchema());
  }
  return ExitCode.ok;
}
