/**
 * What a supervisor tells the world: events for logs and metrics, and the tree as plain data
 * for `status`. Plain data only, so it crosses the bus as JSON.
 */
import type { InspectionEvent } from 'xstate';
import type { ExitReason } from './restart-policy.ts';

export type SupervisorEvent =
  | { type: 'child.started'; supervisor: string; child: string; restarts: number }
  | { type: 'child.start_failed'; supervisor: string; child: string; error: unknown }
  | { type: 'child.exited'; supervisor: string; child: string; exit: ExitReason }
  | { type: 'child.restarting'; supervisor: string; child: string; restarts: number; delayMs: number }
  | { type: 'child.killed'; supervisor: string; child: string; afterMs: number }
  | { type: 'child.state'; supervisor: string; child: string; state: string }
  | { type: 'supervisor.escalated'; supervisor: string; reason: string };

export type SupervisorListener = (event: SupervisorEvent) => void;

/**
 * Given to every child's `createActor` as XState's `inspect` option, with the child's path in
 * the tree (`root/core/workflow/dag`, as `flattenTree` names it): what an inspector makes of the
 * events is its own business. Passed to nested supervisors.
 */
export type ChildInspector = (path: string, event: InspectionEvent) => void;

export interface TreeNode {
  id: string;
  type: 'worker' | 'supervisor';
  strategy?: string;
  /** The supervisor's view: starting, running, backoff, stopping, stopped (or a supervisor's phase). */
  status: string;
  /** The actor's own view: its machine state, or what its runtime reports. */
  state: string;
  restarts: number;
  uptimeMs: number;
  /** The XState machine's id, for an actor running a machine (what the console draws for it). */
  machine?: string;
  children?: TreeNode[];
}

/** A short, stable text for an actor's state: `idle`, `working.running`, or a runtime's state. */
export function describeActorState(snapshot: any): string {
  if (!snapshot) return 'unknown';
  if (snapshot.value !== undefined) return stateValueText(snapshot.value);
  if (typeof snapshot.context?.state === 'string') return snapshot.context.state;
  return String(snapshot.status ?? 'unknown');
}

function stateValueText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    return Object.entries(value)
      .map(([key, inner]) => {
        const innerText = stateValueText(inner);
        return innerText ? `${key}.${innerText}` : key;
      })
      .join(',');
  }
  return '';
}

/** Every node of a tree, depth first, with its path (`root/core/scheduler`). */
export function flattenTree(node: TreeNode, prefix = ''): Array<TreeNode & { path: string }> {
  const path = prefix ? `${prefix}/${node.id}` : node.id;
  return [{ ...node, path }, ...(node.children ?? []).flatMap((child) => flattenTree(child, path))];
}
