/**
 * What the page knows of the running orchestra, kept live: the supervisor tree (from the first
 * `tree` event and /api/tree, fetched again when an actor is created, as after a restart) and
 * each actor's latest inspection record. Views subscribe and redraw what they show.
 */
import { followEvents, getJson, type InspectionRecord, type StatusReply, type TreeNode } from './api.ts';

export interface ActorNow {
  path: string;
  machine?: string;
  state: string;
  value?: unknown;
  status?: string;
  /** When the page learnt it (the record's time, or the tree's). */
  time: number;
}

export type Change = { kind: 'tree' } | { kind: 'record'; record: InspectionRecord } | { kind: 'connection'; open: boolean; dropped?: number };

export function flatten(node: TreeNode, prefix = ''): Array<TreeNode & { path: string }> {
  const path = prefix ? `${prefix}/${node.id}` : node.id;
  return [{ ...node, path }, ...(node.children ?? []).flatMap((child) => flatten(child, path))];
}

export class Live {
  tree: StatusReply | undefined;
  readonly actors = new Map<string, ActorNow>();
  /** Restarts of each actor at the previous tree: a restart is a count that went up. */
  readonly restartedAt = new Map<string, number>();
  readonly #listeners = new Set<(change: Change) => void>();
  #refetch: ReturnType<typeof setTimeout> | undefined;
  droppedTotal = 0;

  start(): void {
    followEvents({
      tree: (reply) => this.#setTree(reply),
      inspection: (record) => this.#record(record),
      dropped: (count) => {
        // Some records were missed: what the tree says now is the truth again.
        this.droppedTotal += count;
        this.#emit({ kind: 'connection', open: true, dropped: count });
        this.refreshTree();
      },
      connected: (open) => this.#emit({ kind: 'connection', open }),
    });
    // Restarts, statuses and uptimes are the tree's, not the records': read it again now and then.
    setInterval(() => this.refreshTree(), 5_000);
  }

  subscribe(listener: (change: Change) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Reads /api/tree again soon (at most once per 300 ms however many ask). */
  refreshTree(): void {
    if (this.#refetch !== undefined) return;
    this.#refetch = setTimeout(() => {
      this.#refetch = undefined;
      getJson<StatusReply>('/api/tree').then(
        (reply) => this.#setTree(reply),
        () => undefined,
      );
    }, 300);
  }

  #setTree(reply: StatusReply): void {
    const now = Date.now();
    const servedAt = Date.parse(reply.startedAt) + reply.uptimeMs;
    const previous = this.tree ? new Map(flatten(this.tree.tree).map((node) => [node.path, node.restarts])) : undefined;
    this.tree = reply;
    for (const node of flatten(reply.tree)) {
      const before = previous?.get(node.path);
      if (before !== undefined && node.restarts > before) this.restartedAt.set(node.path, now);
      const known = this.actors.get(node.path);
      // A record newer than the tree (both in the orchestra's clock) knows better than it.
      if (!known || known.time <= servedAt) {
        this.actors.set(node.path, { path: node.path, ...(node.machine ? { machine: node.machine } : {}), state: node.state, time: servedAt });
      }
    }
    this.#emit({ kind: 'tree' });
  }

  #record(record: InspectionRecord): void {
    if (record.kind === 'actor') {
      // A new actor at a known path is a restart (or a replaced agent): the tree has its count.
      this.refreshTree();
    } else {
      // An actor's new state, or an issue's lifecycle step (kept as the actor `issue/<n>`).
      this.actors.set(record.actor, {
        path: record.actor,
        ...(record.machine ? { machine: record.machine } : {}),
        state: record.state,
        ...(record.value === undefined ? {} : { value: record.value }),
        ...(record.status ? { status: record.status } : {}),
        time: record.time,
      });
    }
    this.#emit({ kind: 'record', record });
  }

  #emit(change: Change): void {
    for (const listener of this.#listeners) listener(change);
  }
}
