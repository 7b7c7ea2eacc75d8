/**
 * Reading the config: YAML text → zod validation → every problem at once, each with its path
 * and line. `loadConfig()` without a path reads the shipped embedded default
 * (`config/miyabi.yaml` of the package) and resolves its relative paths against the cwd; with a
 * path, against that file's directory (see ./paths.ts).
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { LineCounter, isAlias, parseDocument, visit, type Document } from 'yaml';
import { ErrorCodes, MiyabiError, describeError } from '../errors.ts';
import { packageRoot } from '../package-root.ts';
import { resolveConfigPaths } from './paths.ts';
import { ConfigInvalidError, pathToString, problemsFromIssue, type ConfigProblem } from './problems.ts';
import { configSchema, type OrchestraConfig } from './schema.ts';
import { suggestKey } from './suggest.ts';
import { duplicateKeyOffsets, positionOf } from './yaml-position.ts';

/**
 * The largest config file read. A config is a page of settings; megabytes of it are a mistake
 * or an attack, refused at once rather than validated for minutes.
 */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Problems reported at once: a screenful says what is wrong; twenty thousand lines do not. */
const MAX_REPORTED_PROBLEMS = 100;
/** Aliases a config may expand: enough for sharing blocks, too few for a "billion laughs" bomb. */
const MAX_ALIAS_COUNT = 100;

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
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_CONFIG_BYTES) return { ok: false, problems: [tooLarge(sourceName, bytes)] };
  const lineCounter = new LineCounter();
  // Duplicate keys are refused below, in linear time (yaml's `uniqueKeys` check is quadratic).
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const malformed = [
    ...doc.errors.map((error) => ({ offset: error.pos[0], reason: error.message.split('\n')[0]! })),
    ...duplicateKeyOffsets(doc).map((offset) => ({ offset, reason: 'Map keys must be unique' })),
  ];
  if (malformed.length > 0) {
    return {
      ok: false,
      problems: malformed.map(({ offset, reason }) => {
        const { line, col } = lineCounter.linePos(offset);
        return {
          path: '',
          message: `malformed YAML in ${sourceName} at line ${line}, column ${col}: ${reason}`,
          line,
          column: col,
        };
      }),
    };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (error) {
    // yaml refuses an alias expansion past maxAliasCount; say where the aliases are.
    const first = firstAliasOffset(doc);
    const pos = first === undefined ? undefined : lineCounter.linePos(first);
    const where = pos === undefined ? '' : ` at line ${pos.line}, column ${pos.col}`;
    return {
      ok: false,
      problems: [
        {
          path: '',
          message: `${sourceName}${where}: ${describeError(error)} (aliases may expand to at most ${MAX_ALIAS_COUNT} nodes)`,
          ...(pos === undefined ? {} : { line: pos.line, column: pos.col }),
        },
      ],
    };
  }
  const result = configSchema.safeParse(data, { reportInput: true });
  if (result.success) return { ok: true, config: result.data };
  // A "did you mean" costs a search of the schema: only for as many keys as are reported.
  let suggested = 0;
  const suggest = (path: readonly PropertyKey[], key: string) =>
    ++suggested <= MAX_REPORTED_PROBLEMS ? suggestKey(configSchema, path, key) : undefined;
  const problems = result.error.issues
    .flatMap((issue) => problemsFromIssue(issue, suggest))
    .map(({ path, message }): ConfigProblem => {
      const pos = positionOf(doc, lineCounter, path);
      return { path: pathToString(path), message, ...(pos === undefined ? {} : pos) };
    });
  problems.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0));
  if (problems.length <= MAX_REPORTED_PROBLEMS) return { ok: false, problems };
  const more = problems.length - MAX_REPORTED_PROBLEMS;
  return { ok: false, problems: [...problems.slice(0, MAX_REPORTED_PROBLEMS), { path: '', message: `… and ${more} more problems` }] };
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
    const { size } = await stat(file);
    if (size > MAX_CONFIG_BYTES) throw new ConfigInvalidError(file, [tooLarge(file, size)]);
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (error instanceof ConfigInvalidError) throw error;
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

function tooLarge(sourceName: string, bytes: number): ConfigProblem {
  const mib = (bytes / 1024 / 1024).toFixed(1);
  return { path: '', message: `${sourceName} is ${mib} MiB; a config may be at most ${MAX_CONFIG_BYTES / 1024 / 1024} MiB` };
}

function firstAliasOffset(doc: Document): number | undefined {
  let offset: number | undefined;
  visit(doc, {
    Alias(_key, node) {
      if (isAlias(node)) offset = node.range?.[0];
      return visit.BREAK;
    },
  });
  return offset;
}
