/**
 * The control subjects: the CLI and the Conductor pane ask a running orchestra over plain NATS
 * request/reply. Apart from the control actor (./control.ts) so that clients import none of its
 * code.
 */
import type { TreeNode } from '../supervisor/tree.ts';
import type { NodeRole, Refusal } from '../cluster/members.ts';
import type { BudgetStatus } from '../workflow/budget-ledger.ts';

export const CONTROL_SUBJECTS = {
  status: 'miyabi.control.status',
  stop: 'miyabi.control.stop',
  /** `{ "agent": "codegen-1" }`: an operator restarts an agent by hand (counted as a manual_restart). */
  restart: 'miyabi.control.restart',
  /** An operator lifts the daily budget's hold for the rest of the budget day (`miyabi-orchestra budget resume`). */
  budgetResume: 'miyabi.control.budget.resume',
  /** Only answered with MIYABI_FAULT_INJECTION=1 (src/actors/control.ts). */
  fault: 'miyabi.control.fault',
} as const;

export type BudgetReply = { ok: true; budget: BudgetStatus } | { ok: false; error: string };

export type RestartReply = { ok: true; agent: string; role: string } | { ok: false; error: string };

export interface StatusReply {
  pid: number;
  startedAt: string;
  uptimeMs: number;
  natsUrl: string;
  httpUrl: string | undefined;
  tree: TreeNode;
  /** The budget day's spend and what it admits; absent while the workflow is not running. */
  budget?: BudgetStatus;
  /** Cluster mode: which node answered, and its part in the cluster (docs/CLUSTER.md "Status of every node"). */
  cluster?: NodeStatus;
}

export interface NodeStatus {
  node: string;
  role: NodeRole;
  /** While leading: the epoch it was elected with, and when (ISO). */
  epoch?: number;
  leaderSince?: string;
  refusal?: Refusal;
}
