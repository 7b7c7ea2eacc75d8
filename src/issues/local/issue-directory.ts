/**
 * The issue directory as the orchestra reads it many times a second: every tracker write, trust
 * check and poll asks for an issue. Reading the whole directory for each (what this replaced) made
 * discovery quadratic and opened one file per issue per call at once — 18,000 descriptors and an
 * EMFILE crash with 1,000 issues. Here:
 *
 * - a full scan lists the directory and stats every file, and re-reads only the files whose stat
 *   changed since the last scan, a few at a time (./file-slots.ts);
 * - one issue is found by its file from the last scan: one stat, and a read only when it changed;
 * - a file that cannot be read now (EMFILE, EIO, a permission flipped) keeps its last good version
 *   and says so as a problem. Dropping it would tell the watcher the issue is gone, and the
 *   workflow would release its work for an I/O error.
 *
 * The rule that a number two files claim skips both holds at each full scan; between scans a new
 * duplicate is seen by the next one (the watcher scans every poll).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { describeError } from '../../errors.ts';
import { LocalIssueSourceError, LocalSourceErrorCodes } from './errors.ts';
import { inFileSlot } from './file-slots.ts';
import { parseIssueFile, utf8, type IssueFile, type IssueFileProblem } from './issue-files.ts';

export interface IssueDirectoryScan {
  /** Sorted by number. */
  issues: IssueFile[];
  problems: IssueFileProblem[];
}

interface Version {
  mtimeMs: number;
  ctimeMs: number;
  size: number;
  ino: number;
}

/** What one file held the last time it was read, and which version of it that was. */
interface CachedFile {
  version: Version;
  read: IssueFile | IssueFileProblem;
}

const versionOf = (info: Stats): Version => ({ mtimeMs: info.mtimeMs, ctimeMs: info.ctimeMs, size: info.size, ino: info.ino });
const sameVersion = (a: Version, b: Version): boolean =>
  a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.size === b.size && a.ino === b.ino;
const isProblem = (read: IssueFile | IssueFileProblem): read is IssueFileProblem => 'message' in read;
const errorCode = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | undefined)?.code;

export class IssueDirectory {
  readonly #cache = new Map<string, CachedFile>();
  /** Number → its one file, from the last full scan. */
  #files = new Map<number, string>();

  constructor(readonly dir: string) {}

  /**
   * The issues of the directory, and the files skipped with why. Only `*.md` files directly in
   * it; dot files are editors' locks and backups, not issues. A directory that cannot be listed
   * throws (nothing is known, so nothing may be concluded).
   */
  async scan(): Promise<IssueDirectoryScan> {
    const names = await this.#list();
    const files = names.map((name) => path.join(this.dir, name));
    const read = await Promise.all(files.map((file) => this.#read(file)));
    const seen = new Set(files);
    for (const file of this.#cache.keys()) if (!seen.has(file)) this.#cache.delete(file);
    const scan = assemble(read);
    this.#files = new Map(scan.issues.map((issue) => [issue.number, issue.file]));
    return scan;
  }

  /** Issue `number`, from its file of the last scan (scanning when it is not known or moved). */
  async find(number: number): Promise<IssueFile | undefined> {
    const file = this.#files.get(number);
    if (file !== undefined) {
      const read = await this.#read(file);
      if (read !== undefined && !isProblem(read) && read.number === number) return read;
    }
    return (await this.scan()).issues.find((issue) => issue.number === number);
  }

  async #list(): Promise<string[]> {
    try {
      const entries = await readdir(this.dir, { withFileTypes: true });
      return entries
        .filter((entry) => (entry.isFile() || entry.isSymbolicLink()) && !entry.name.startsWith('.') && /\.md$/i.test(entry.name))
        .map((entry) => entry.name)
        .sort();
    } catch (error) {
      const code = errorCode(error);
      const why = code === 'ENOTDIR' ? 'is not a directory' : 'cannot be read';
      throw new LocalIssueSourceError(
        LocalSourceErrorCodes.IssueDirMissing,
        code === 'ENOENT' ? `issue directory ${this.dir} does not exist` : `issue directory ${this.dir} ${why}: ${describeError(error)}`,
        { cause: error },
      );
    }
  }

  /** One file: from the cache when its stat has not changed; undefined when it is gone or not a file. */
  async #read(file: string): Promise<ReadFile> {
    const cached = this.#cache.get(file);
    try {
      const info = await stat(file);
      if (!info.isFile()) {
        this.#cache.delete(file);
        return undefined;
      }
      const version = versionOf(info);
      if (cached && sameVersion(cached.version, version)) return cached.read;
      const parsed = parseIssueFile(utf8.decode(await inFileSlot(() => readFile(file))), file);
      const read = parsed.ok ? { ...parsed.issue, file, mtimeMs: info.mtimeMs } : { ...parsed.problem, mtimeMs: info.mtimeMs };
      this.#cache.set(file, { version, read });
      return read;
    } catch (error) {
      if (errorCode(error) === 'ENOENT') {
        // Removed since listed, or a dangling link.
        this.#cache.delete(file);
        return undefined;
      }
      if (cached && !isProblem(cached.read)) {
        return { ...cached.read, unreadable: `cannot be read now (${describeError(error)}); its last version is used` };
      }
      return { file, message: `file: cannot be read (${describeError(error)})` };
    }
  }
}

/** A file whose last good version stands in while it cannot be read. */
type ReadFile = (IssueFile & { unreadable?: string }) | IssueFileProblem | undefined;

/** Issues by number, every file of a number two files claim skipped, problems named. */
function assemble(read: readonly ReadFile[]): IssueDirectoryScan {
  const problems: IssueFileProblem[] = [];
  const byNumber = new Map<number, IssueFile[]>();
  for (const entry of read) {
    if (entry === undefined) continue;
    if (isProblem(entry)) {
      problems.push(entry);
      continue;
    }
    const { unreadable, ...issue } = entry;
    if (unreadable !== undefined) problems.push({ file: issue.file, message: `file: ${unreadable}`, mtimeMs: issue.mtimeMs });
    byNumber.set(issue.number, [...(byNumber.get(issue.number) ?? []), issue]);
  }
  const issues: IssueFile[] = [];
  for (const [number, files] of byNumber) {
    if (files.length === 1) {
      issues.push(files[0]!);
      continue;
    }
    for (const issue of files) {
      const others = files.filter((other) => other !== issue).map((other) => other.file);
      const skipped = files.length === 2 ? 'both' : 'all';
      problems.push({ file: issue.file, message: `number: ${number} is also the number of ${others.join(', ')}; ${skipped} skipped`, mtimeMs: issue.mtimeMs });
    }
  }
  issues.sort((a, b) => a.number - b.number);
  return { issues, problems };
}

/** One scan of `dir`, nothing kept (the CLI's checks). */
export function readIssueDirectory(dir: string): Promise<IssueDirectoryScan> {
  return new IssueDirectory(dir).scan();
}
