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
import { dayStart, lineFields, type TaskContext } from './lines.ts';
import { findLogSources, type LogSource } from './sources.ts';
import { IndexWriter, OffsetMoved, type FileRecord, type PendingLine } from './index-writer.ts';
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

/** The first bytes kept of each file, to tell a file from another that got its inode. */
const HEAD_BYTES = 128;
const CHUNK_BYTES = 1 << 20;
const BATCH_LINES = 20_000;

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

