/**
 * The writes of an index update (indexer.ts), each one transaction: a file's record added, renamed,
 * cleared or dropped with its rows, and a batch of lines appended with the offset after them —
 * only if no other update moved that offset meanwhile (`OffsetMoved`).
 */
import type { LineFields, TaskContext } from './lines.ts';
import type { LogSource } from './sources.ts';
import type { IndexDatabase } from './store.ts';

export interface FileRecord {
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

export interface PendingLine {
  fields: LineFields;
  line: number;
  offset: number;
}

/** Another update wrote to the file meanwhile: this one leaves it. */
export class OffsetMoved extends Error {}

/** The FTS5 `tags` column of a line: what the filters match (`agent` and `task` are name ids). */
export function tagsOf(tags: { issue?: number; agent?: number; task?: number }): string {
  const parts: string[] = [];
  if (tags.issue !== undefined) parts.push(`i${tags.issue}`);
  if (tags.agent !== undefined) parts.push(`a${tags.agent}`);
  if (tags.task !== undefined) parts.push(`t${tags.task}`);
  return parts.join(' ');
}

/** The statements that change the index; each method is one transaction. */
export class IndexWriter {
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
