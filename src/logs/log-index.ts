/**
 * The log index as the CLI and the web console use it: open it (made or rebuilt as needed), bring
 * it up to date with the files, search it.
 *
 *   const index = LogIndex.open(logsDir);   // `<dataDir>/logs`
 *   index.update();                         // what was appended, rotated or removed since last time
 *   index.search({ query: 'merge failed', issue: 7 });
 *   index.close();
 *
 * or, once, `searchLogs(logsDir, search)`. An index found damaged while it is used is replaced
 * by an empty one and filled again from the files, and the call is made again.
 */
import { updateIndex, type UpdateReport } from './indexer.ts';
import { searchIndex, type LogSearch, type LogSearchResult } from './search.ts';
import { isDamaged, openIndexDatabase, recreateIndexDatabase, type IndexDatabase } from './store.ts';

export type { LogHit, LogSearch, LogSearchResult } from './search.ts';
export type { UpdateReport } from './indexer.ts';

export class LogIndex {
  private constructor(
    readonly logsDir: string,
    private db: IndexDatabase,
  ) {}

  static open(logsDir: string): LogIndex {
    return new LogIndex(logsDir, openIndexDatabase(logsDir)!);
  }

  update(): UpdateReport {
    return this.rebuildingWhenDamaged(() => updateIndex(this.db, this.logsDir));
  }

  search(search: LogSearch): LogSearchResult {
    return this.rebuildingWhenDamaged(() => searchIndex(this.db, this.logsDir, search));
  }

  close(): void {
    this.db.close();
  }

  private rebuildingWhenDamaged<T>(run: () => T): T {
    try {
      return run();
    } catch (error) {
      if (!isDamaged(error)) throw error;
      this.db = recreateIndexDatabase(this.logsDir, this.db);
      updateIndex(this.db, this.logsDir);
      return run();
    }
  }
}

/** Updates the index of `logsDir`, then searches it. */
export function searchLogs(logsDir: string, search: LogSearch): LogSearchResult & { update: UpdateReport } {
  const index = LogIndex.open(logsDir);
  try {
    const update = index.update();
    return { ...index.search(search), update };
  } finally {
    index.close();
  }
}
