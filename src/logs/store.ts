/**
 * The index file, `<dataDir>/logs/index.sqlite` (SQLite through better-sqlite3, full-text search
 * through FTS5). It holds no text of its own: the FTS5 table is contentless, and a hit's text is
 * read back from the log file at the line's offset. So the index adds no copy of the logs, and
 * nothing that was not in a log file (written redacted) can be found or shown through it.
 *
 * - `files`: each log file indexed — its name, kind and agent, its device and inode and first
 *   bytes (how a renamed or replaced file is recognised), the byte offset and line number read so
 *   far, and the task context at that offset (`TaskContext`, JSON).
 * - `lines`: one row per line — file, line number, byte offset, time, issue, and task, agent,
 *   stage and level as ids of `names` (each task id or agent name stored once: log lines are
 *   short, and these repeat on every one). Its id is the FTS5 rowid.
 * - `spans`: the id range and time range of each batch of one file's lines: a file's rows are
 *   deleted by range, and `--since` starts the search at the first batch that reaches that time.
 * - `search`: FTS5 over `text` and `tags` (`i<issue>`, `a<agent's name id>`, `t<task's name id>`): filters
 *   are terms of the same query, so the search engine intersects them instead of a join.
 *
 * The file is only a cache of the logs: a missing, unreadable or older-schema file is replaced by
 * an empty one, filled again from the log files by the next update.
 */
import Database from 'better-sqlite3';
import { chmodSync, rmSync } from 'node:fs';
import path from 'node:path';

export type IndexDatabase = Database.Database;

/** Bumped whenever the tables change: an index of another version is rebuilt. */
const SCHEMA_VERSION = 3;

const SCHEMA = `
CREATE TABLE files (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  agent TEXT,
  dev INTEGER NOT NULL,
  ino INTEGER NOT NULL,
  head BLOB NOT NULL,
  offset INTEGER NOT NULL,
  line INTEGER NOT NULL,
  context TEXT NOT NULL
);
CREATE UNIQUE INDEX files_inode ON files (dev, ino);
CREATE TABLE lines (
  id INTEGER PRIMARY KEY,
  file INTEGER NOT NULL,
  line INTEGER NOT NULL,
  offset INTEGER NOT NULL,
  time INTEGER NOT NULL,
  issue INTEGER,
  task INTEGER,
  agent INTEGER,
  stage INTEGER,
  level INTEGER
);
CREATE TABLE names (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);
CREATE TABLE spans (
  file INTEGER NOT NULL,
  first INTEGER NOT NULL,
  last INTEGER NOT NULL,
  min_time INTEGER NOT NULL,
  max_time INTEGER NOT NULL
);
CREATE INDEX spans_file ON spans (file);
CREATE VIRTUAL TABLE search USING fts5 (
  text, tags, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2'
);
PRAGMA user_version = ${SCHEMA_VERSION};
`;

/** The index file of a logs directory. */
export function indexPath(logsDir: string): string {
  return path.join(logsDir, 'index.sqlite');
}

function removeIndex(file: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${file}${suffix}`, { force: true });
}

function tryOpen(file: string, readonly: boolean): IndexDatabase | undefined {
  let db: IndexDatabase | undefined;
  try {
    db = new Database(file, { readonly, fileMustExist: readonly });
    db.pragma('busy_timeout = 10000');
    if (!readonly) {
      // The logs are private to the orchestra's user; so is what is known of them.
      chmodSync(file, 0o600);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      // FTS5 merges its segments through the page cache: 64 MiB instead of 2 keeps a bulk index fast.
      db.pragma('cache_size = -65536');
    }
    const version = db.pragma('user_version', { simple: true });
    if (version === SCHEMA_VERSION) return db;
    const tables = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number };
    if (version === 0 && tables.n === 0 && !readonly) {
      db.exec(SCHEMA);
      return db;
    }
  } catch {
    // Not a database, or a damaged one: replaced below.
  }
  db?.close();
  return undefined;
}

/**
 * Opens the index (0600), making it when missing and replacing it when it is not an index of
 * this version or cannot be read. `readonly`: never write (undefined when there is none).
 */
export function openIndexDatabase(logsDir: string, options: { readonly?: boolean } = {}): IndexDatabase | undefined {
  const file = indexPath(logsDir);
  const readonly = options.readonly === true;
  const db = tryOpen(file, readonly);
  if (db !== undefined || readonly) return db;
  removeIndex(file);
  const fresh = tryOpen(file, false);
  if (fresh === undefined) throw new Error(`cannot create the log index ${file}`);
  return fresh;
}

/** Replaces the index with an empty one (after it was found damaged mid-use). */
export function recreateIndexDatabase(logsDir: string, db: IndexDatabase): IndexDatabase {
  db.close();
  removeIndex(indexPath(logsDir));
  return openIndexDatabase(logsDir)!;
}

/** True when an error says the database file is damaged or not a database (then it is rebuilt). */
export function isDamaged(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^SQLITE_(CORRUPT|NOTADB)/.test(code);
}
