/**
 * Brings the index up to date with the log files, reading only what it has not read yet.
 *
 * Each file is known by its device, inode and first bytes, not by its name, so:
 * - lines appended to a file are indexed from the offset reached last time (complete lines only:
 *   a line still being written waits for its newline);
 * - a file renamed by a rotation (`<day>.log` → `<day>.log.1`) keeps its rows under its new name;
 * - a file truncated (smaller than what was read, as `copytruncate` leaves it) or replaced by
 *   another under the same inode has its rows deleted and is read again from the start;
 * - a file gone (retention removed it) has its rows deleted.
 *
 * Rows are written in batches, each one transaction with the file's new offset, so an update cut
 * short leaves a consistent index the next one continues. Two updates at once do not index a
 * line twice: a batch is written only if the file's offset is still the one it started from.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { dayStart, lineFields, type LineFields, type TaskContext } from './lines.ts';
import { findLogSources, type LogSource } from './sources.ts';
import type { IndexDatabase } from './store.ts';

export interface UpdateReport {
  /** Log files the index now covers. */
  files: number;
  /** Lines indexed by this update. */
  lines: number;
  /** Bytes read by this update. */
  bytes: number;
  /** Files read again from the start (truncated or replaced). */
  reindexed: number;
  /** Files gone whose rows were deleted. */
  dropped: number;
}

interface FileRecord {
  id: number;
  name: string;
  kind: string;
  agent: string | null;
  dev: number;
  ino: number;
  head: Buffer;
  offset: number;
  line: number;
  context: string;
}

interface PendingLine {
  fields: LineFields;
  line: number;
  offset: number;
}

/** The first bytes kept of each file, to tell a file from another that got its inode. */
const HEAD_BYTES = 128;
const CHUNK_BYTES = 1 << 20;
const BATCH_LINES = 20_000;

class OffsetMoved extends Error {}

/** The FTS5 `tags` column of a line: what the filters match (`agent` and `task` are name ids). */
export function tagsOf(tags: { issue?: number; agent?: number; task?: number }): string {
  const parts: string[] = [];
  if (tags.issue !== undefined) parts.push(`i${tags.issue}`);
  if (tags.agent !== undefined) parts.push(`a${tags.agent}`);
  if (tags.task !== undefined) parts.push(`t${tags.task}`);
  return parts.join(' ');
}

function readHead(file: string, length: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    return buffer.subarray(0, readSync(fd, buffer, 0, length, 0));
  } finally {
    closeSync(fd);
  }
}

export function updateIndex(db: IndexDatabase, logsDir: string): UpdateReport {
  const report: UpdateReport = { files: 0, lines: 0, bytes: 0, reindexed: 0, dropped: 0 };
  const writer = new IndexWriter(db);
  const sources = findLogSources(logsDir);
  const byInode = new Map(sources.map((source) => [`${source.stat.dev}:${source.stat.ino}`, source]));
  const records = new Map<string, FileRecord>();
  for (const record of db.prepare('SELECT * FROM files').all() as FileRecord[]) {
    const source = byInode.get(`${record.dev}:${record.ino}`);
    // Same inode, and either no longer than what was read (unchanged, or truncated: read again
    // below) or still starting as it did.
    const same =
      source !== undefined &&
      !records.has(source.name) &&
      (source.stat.size <= record.offset || readHead(path.join(logsDir, source.name), record.head.length).equals(record.head));
    if (!same) {
      writer.drop(record);
      report.dropped += 1;
      continue;
    }
    if (record.name !== source.name) writer.rename(record, source.name);
    if (source.stat.size < record.offset) {
      writer.clear(record, initialContext(source, undefined));
      report.reindexed += 1;
    }
    records.set(source.name, record);
  }
  const predecessors = agentPredecessors(sources);
  for (const source of sources) {
    const before = predecessors.get(source.name);
    const inherited = before === undefined ? undefined : records.get(before)?.context;
    let record = records.get(source.name);
    if (record === undefined) {
      record = writer.add(source, initialContext(source, inherited));
      records.set(source.name, record);
    } else if (record.offset === 0 && record.line === 0 && inherited !== undefined) {
      record.context = JSON.stringify(initialContext(source, inherited));
    }
    if (source.stat.size > record.offset) indexFile(writer, path.join(logsDir, source.name), source, record, report);
    if (record.head.length < HEAD_BYTES && record.offset > record.head.length) writer.setHead(record, readHead(path.join(logsDir, source.name), HEAD_BYTES));
  }
  report.files = sources.length;
  return report;
}

/** Where a file's reading starts: an agent's file carries on the task of the file before it. */
function initialContext(source: LogSource, inherited: string | undefined): TaskContext {
  if (inherited !== undefined) return JSON.parse(inherited) as TaskContext;
  return { time: source.kind === 'agent' ? dayStart(source.name, source.stat.mtimeMs) : source.stat.mtimeMs };
}

/** For each agent output file, the one written before it (the day's older rotation, or the day before). */
function agentPredecessors(sources: readonly LogSource[]): Map<string, string> {
  const byAgent = new Map<string, LogSource[]>();
  for (const source of sources) {
    if (source.kind !== 'agent' || source.agent === undefined) continue;
    byAgent.set(source.agent, [...(byAgent.get(source.agent) ?? []), source]);
  }
  const predecessors = new Map<string, string>();
  for (const files of byAgent.values()) {
    files.sort((a, b) => a.sequence!.localeCompare(b.sequence!));
    files.forEach((file, index) => {
      if (index > 0) predecessors.set(file.name, files[index - 1]!.name);
    });
  }
  return predecessors;
}

function indexFile(writer: IndexWriter, file: string, source: LogSource, record: FileRecord, report: UpdateReport): void {
  const fd = openSync(file, 'r');
  const chunk = Buffer.alloc(CHUNK_BYTES);
  let context = JSON.parse(record.context) as TaskContext;
  let line = record.line;
  let pending = Buffer.alloc(0);
  let pendingAt = record.offset;
  let position = record.offset;
  let batch: PendingLine[] = [];
  const flush = (nextOffset: number) => {
    writer.append(record, batch, nextOffset, line, context);
    report.lines += batch.length;
    batch = [];
  };
  try {
    while (position < source.stat.size) {
      const read = readSync(fd, chunk, 0, Math.min(CHUNK_BYTES, source.stat.size - position), position);
      if (read === 0) break;
      position += read;
      report.bytes += read;
      const data = pending.length > 0 ? Buffer.concat([pending, chunk.subarray(0, read)]) : chunk.subarray(0, read);
      let start = 0;
      for (let newline = data.indexOf(10, start); newline !== -1; newline = data.indexOf(10, start)) {
        const end = newline > start && data[newline - 1] === 13 ? newline - 1 : newline;
        const text = data.toString('utf8', start, end);
        line += 1;
        if (text.trim() !== '') {
          const parsed = lineFields(source.kind, text, source.agent, context);
          context = parsed.after;
          batch.push({ fields: parsed.fields, line, offset: pendingAt + start });
        }
        start = newline + 1;
        if (batch.length >= BATCH_LINES) flush(pendingAt + start);
      }
      pendingAt += start;
      pending = Buffer.from(data.subarray(start));
    }
    if (batch.length > 0 || pendingAt > record.offset) flush(pendingAt);
  } catch (error) {
    if (!(error instanceof OffsetMoved)) throw error;
  } finally {
    closeSync(fd);
  }
}

/** The statements that change the index; each method is one transaction. */
class IndexWriter {
  private readonly insertLine;
  private readonly insertText;
  private readonly spansOf;
  private readonly findName;
  private readonly insertName;
  /** Name → id, as committed; names added by a transaction that rolled back are forgotten. */
  private readonly names = new Map<string, number>();
  private added: string[] = [];
  constructor(private readonly db: IndexDatabase) {
    this.findName = db.prepare('SELECT id FROM names WHERE name = ?').pluck();
    this.insertName = db.prepare('INSERT INTO names (name) VALUES (?)');
    this.insertLine = db.prepare(
      'INSERT INTO lines (file, line, offset, time, issue, task, agent, stage, level) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.insertText = db.prepare('INSERT INTO search (rowid, text, tags) VALUES (?, ?, ?)');
    this.spansOf = db.prepare('SELECT first, last FROM spans WHERE file = ?');
  }

  add(source: LogSource, context: TaskContext): FileRecord {
    // The first bytes are recorded once some are read (`setHead`).
    const head = Buffer.alloc(0);
    const record: FileRecord = {
      id: 0,
      name: source.name,
      kind: source.kind,
      agent: source.agent ?? null,
      dev: source.stat.dev,
      ino: source.stat.ino,
      head,
      offset: 0,
      line: 0,
      context: JSON.stringify(context),
    };
    // Another update may have added it since this one listed the files: then its record is the one.
    this.db
      .prepare('INSERT OR IGNORE INTO files (name, kind, agent, dev, ino, head, offset, line, context) VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?)')
      .run(record.name, record.kind, record.agent, record.dev, record.ino, head, record.context);
    return this.db.prepare('SELECT * FROM files WHERE dev = ? AND ino = ?').get(record.dev, record.ino) as FileRecord;
  }

  rename(record: FileRecord, name: string): void {
    this.db.prepare('UPDATE files SET name = ? WHERE id = ?').run(name, record.id);
    record.name = name;
  }

  setHead(record: FileRecord, head: Buffer): void {
    this.db.prepare('UPDATE files SET head = ? WHERE id = ?').run(head, record.id);
    record.head = head;
  }

  /** Deletes the file's rows; it is read again from the start. */
  clear(record: FileRecord, context: TaskContext): void {
    this.db.transaction(() => {
      this.deleteRows(record.id);
      this.db.prepare("UPDATE files SET offset = 0, line = 0, head = x'', context = ? WHERE id = ?").run(JSON.stringify(context), record.id);
    }).immediate();
    Object.assign(record, { offset: 0, line: 0, head: Buffer.alloc(0), context: JSON.stringify(context) });
  }

  /** Deletes the file's rows and its record. */
  drop(record: FileRecord): void {
    this.db.transaction(() => {
      this.deleteRows(record.id);
      this.db.prepare('DELETE FROM files WHERE id = ?').run(record.id);
    }).immediate();
  }

  /** Writes a batch of lines and the offset after them, if no other update moved that offset meanwhile. */
  append(record: FileRecord, batch: readonly PendingLine[], offset: number, line: number, context: TaskContext): void {
    const contextText = JSON.stringify(context);
    this.added = [];
    try {
      this.db.transaction(() => this.write(record, batch, offset, line, contextText)).immediate();
    } catch (error) {
      for (const name of this.added) this.names.delete(name);
      throw error;
    }
    Object.assign(record, { offset, line, context: contextText });
  }

  private write(record: FileRecord, batch: readonly PendingLine[], offset: number, line: number, contextText: string): void {
    const current = this.db.prepare('SELECT offset FROM files WHERE id = ?').get(record.id) as { offset: number } | undefined;
    if (current?.offset !== record.offset) throw new OffsetMoved();
    let first = 0;
    let last = 0;
    let minTime = Infinity;
    let maxTime = -Infinity;
    for (const { fields, line: number, offset: at } of batch) {
      const task = this.nameId(fields.taskId);
      const agent = this.nameId(fields.agent);
      const id = Number(
        this.insertLine.run(record.id, number, at, fields.time, fields.issue ?? null, task ?? null, agent ?? null, this.nameId(fields.stage) ?? null, this.nameId(fields.level) ?? null)
          .lastInsertRowid,
      );
      this.insertText.run(id, fields.text, tagsOf({ issue: fields.issue, agent, task }));
      if (first === 0) first = id;
      last = id;
      minTime = Math.min(minTime, fields.time);
      maxTime = Math.max(maxTime, fields.time);
    }
    if (first !== 0) this.db.prepare('INSERT INTO spans (file, first, last, min_time, max_time) VALUES (?, ?, ?, ?, ?)').run(record.id, first, last, minTime, maxTime);
    this.db.prepare('UPDATE files SET offset = ?, line = ?, context = ? WHERE id = ?').run(offset, line, contextText, record.id);
  }

  private nameId(name: string | undefined): number | undefined {
    if (name === undefined) return undefined;
    let id = this.names.get(name) ?? (this.findName.get(name) as number | undefined);
    if (id === undefined) {
      id = Number(this.insertName.run(name).lastInsertRowid);
      this.added.push(name);
    }
    this.names.set(name, id);
    return id;
  }

  private deleteRows(file: number): void {
    for (const { first, last } of this.spansOf.all(file) as Array<{ first: number; last: number }>) {
      this.db.prepare('DELETE FROM search WHERE rowid BETWEEN ? AND ?').run(first, last);
      this.db.prepare('DELETE FROM lines WHERE id BETWEEN ? AND ?').run(first, last);
    }
    this.db.prepare('DELETE FROM spans WHERE file = ?').run(file);
  }
}
