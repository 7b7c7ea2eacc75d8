/** `config check` validates a config file; `config schema` prints or writes its JSON Schema. */
import { renderConfigSchema, writeConfigSchema } from '../../config/json-schema.ts';
import { resolveSecrets } from '../../config/secrets.ts';
import { formatProblem } from '../../config/problems.ts';
import { describeError } from '../../errors.ts';
import { readIssueDirectory } from '../../issues/local-source.ts';
import { loadDependencyFile } from '../../workflow/dependency-file.ts';
import { missingAgentPrograms, missingIssueDirectory, unservedStages } from '../../orchestra/workable-config.ts';
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
  const dependencyFile = await loadDependencyFile(loaded.config);
  if (!dependencyFile.ok) {
    process.stderr.write(`config ${loaded.path}: its dependency file is invalid:\n`);
    for (const problem of dependencyFile.problems) process.stderr.write(`${formatProblem(problem)}\n`);
    return ExitCode.invalid;
  }
  // An issue of another repository is ignored by the orchestra (one log line at `up`): a warning here.
  for (const message of dependencyFile.ignored) process.stderr.write(`warning: ${message}\n`);
  const unworkable = [...unservedStages(loaded.config), ...missingIssueDirectory(loaded.config), ...missingAgentPrograms(loaded.config)];
  if (unworkable.length > 0) {
    process.stderr.write(`config ${loaded.path} is valid, but cannot work:\n`);
    for (const problem of unworkable) process.stderr.write(`${formatProblem(problem)}\n`);
    return ExitCode.invalid;
  }
  if (loaded.config.issues.source === 'local') {
    // Issue files are data, not config: a bad one is skipped by the orchestra, and named here.
    const { issues, problems: fileProblems } = await readIssueDirectory(loaded.config.issues.local.dir).catch((error: unknown) => ({
      issues: [],
      problems: [{ file: loaded.config.issues.local.dir, message: describeError(error) }],
    }));
    for (const problem of fileProblems) process.stderr.write(`warning: ${problem.file}: ${problem.message}\n`);
    process.stdout.write(`${issues.length} local issue(s) in ${loaded.config.issues.local.dir}\n`);
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
