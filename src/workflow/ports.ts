/**
 * What the workflow engine needs of its two sibling actors, `dag` and `scheduler`
 * (src/actors/dag.ts, src/actors/scheduler.ts): changes are sent to the actor, reads are of its
 * snapshot, in the same synchronous step. A change the actor cannot take (it crashed, or is down)
 * throws, so the engine's step fails before it writes anything and the `workflow` supervisor
 * restarts the three together, rebuilt from KV.
 */
import type { DagSnapshot, DependencyGraph, NodeState } from '../machines/dag.ts';
import type { QueuedTask, TaskQueue } from '../machines/scheduler.ts';

export interface GraphPort {
  /** For reading only: changes go through the methods. */
  readonly graph: Omit<DependencyGraph, 'setNode' | 'setState' | 'removeNode'>;
  load(snapshot: DagSnapshot | undefined): void;
  setNode(id: number, dependsOn: readonly number[]): void;
  setState(id: number, state: NodeState): void;
}

export interface QueuePort {
  readonly queue: Pick<TaskQueue, 'queued' | 'running'>;
  enqueue(task: QueuedTask): void;
  remove(id: string): void;
  finished(id: string): void;
  markRunning(task: QueuedTask): void;
  /** Every task that may start at `now`; they count as running from here. */
  take(now: number): QueuedTask[];
}
