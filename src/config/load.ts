/**
 * Reading the config: YAML text → zod validation → every problem at once, each with its path
 * and line. `loadConfig()` without a path reads the shipped embedded default
 * (`config/miyabi.yaml` of the package) and resolves its relative paths against the cwd; with a
 * path, against that file's directory (see ./paths.ts).
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { ErrorCodes, MiyabiError, describeError } from '../errors.ts';
import { packageRoot } from '../package-root.ts';
import { resolveConfigPaths } from './paths.ts';
import { ConfigInvalidError, pathToString, problemsFromIssue, type ConfigProblem } from './problems.ts';
import { configSchema, type OrchestraConfig } from './schema.ts';
import { suggestKey } from './suggest.ts';
import { positionOf } from './yaml-position.ts';

export type ParseResult =
  | { readonly ok: true; readonly config: OrchestraConfig }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

export interface LoadedConfig {
  /** Validated, defaults filled in, relative paths made absolute. */
  readonly config: OrchestraConfig;
  /** The file read (the shipped default when none was given). */
  readonly path: string;
  /** What relative paths were resolved against. */
  readonly baseDir: string;
  /** True when no file was given and the embedded default was used. */
  readonly isDefault: boolean;
}

/** The shipped embedded default, `config/miyabi.yaml` of the package. */
export function defaultConfigPath(): string {
  return join(packageRoot(), 'config', 'miyabi.yaml');
}

/** Validates YAML text; relative paths are left as written. `sourceName` only names the text. */
export function parseConfigText(text: string, sourceName: string): ParseResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((error) => {
        const { line, col } = lineCounter.linePos(error.pos[0]);
        const reason = error.message.split('\n')[0]!;
        return {
          path: '',
          message: `malformed YAML in ${sourceName} at line ${line}, column ${col}: ${reason}`,
          line,
          column: col,
        };
      }),
    };
  }
  const data: unknown = doc.toJS() ?? {};
  const result = configSchema.safeParse(data, { reportInput: true });
  if (result.success) return { ok: true, config: result.data };
  const problems = result.error.issues
    .flatMap((issue) => problemsFromIssue(issue, (path, key) => suggestKey(configSchema, path, key)))
    .map(({ path, message }): ConfigProblem => {
      const pos = positionOf(doc, lineCounter, path);
      return { path: pathToString(path), message, ...(pos === undefined ? {} : pos) };
    });
  problems.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0));
  return { ok: false, problems };
}

/**
 * Reads, validates and resolves the config. Throws MiyabiError `config_unreadable` when the
 * file cannot be read, ConfigInvalidError (`config_invalid`, with `problems`) when it is wrong.
 */
export async function loadConfig(path?: string, options: { cwd?: string } = {}): Promise<LoadedConfig> {
  const cwd = options.cwd ?? process.cwd();
  const isDefault = path === undefined;
  const file = isDefault ? defaultConfigPath() : resolve(cwd, path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new MiyabiError(ErrorCodes.ConfigUnreadable, `cannot read config file ${file}: ${describeError(error)}`, {
      cause: error,
    });
  }
  const parsed = parseConfigText(text, file);
  if (!parsed.ok) throw new ConfigInvalidError(file, parsed.problems);
  const baseDir = isDefault ? cwd : dirname(file);
  const config = resolveConfigPaths(parsed.config, baseDir);
  const misplaced = dataDirProblem(config.dataDir, /^dataDir\s*:/m.test(text));
  if (misplaced) throw new ConfigInvalidError(file, [misplaced]);
  return { config, path: file, baseDir, isDefault };
}

/**
 * The data directory never goes under /etc: a config there without `dataDir` would otherwise put
 * it next to itself (`/etc/miyabi/.miyabi`), where a hardened unit cannot write
 * (`ProtectSystem=strict`) and no backup of state expects it.
 */
export function dataDirProblem(dataDir: string, given: boolean): ConfigProblem | undefined {
  if (dataDir !== '/etc' && !dataDir.startsWith('/etc/')) return undefined;
  const fix = 'set `dataDir: /var/lib/miyabi` (what `miyabi-orchestra install-service` writes)';
  return {
    path: 'dataDir',
    message: given
      ? `the data directory ${dataDir} is under /etc, which holds configuration, not state: ${fix}`
      : `the config sets no dataDir, so the data would land next to it in ${dataDir}: ${fix}`,
  };
}
