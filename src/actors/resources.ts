/**
 * What the actors of one orchestra share: config, logger, metrics, and the live connections that
 * the infrastructure actors own and publish here while they run. A dependent actor reads the
 * current value when it starts; rest_for_one guarantees it restarts after the owner does.
 * Built by the assembly (src/orchestra/orchestra.ts); here, below it, so that the actors that
 * publish into it and read from it never import the assembly.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { BudgetLedger } from '../workflow/budget-ledger.ts';
import type { OrchestraConfig } from '../config/schema.ts';
import type { Secrets } from '../config/secrets.ts';
import type { Bus } from '../infra/bus/bus.ts';
import type { BusObserver } from '../infra/bus/observer.ts';
import type { NatsIdentity } from '../infra/nats/identities.ts';
import type { Redact } from '../infra/observe/redact.ts';
import type { Fault, OrchestraMetrics } from '../infra/observe/metrics.ts';
import type { PaneDriver, PaneHandle } from '../infra/panes/driver.ts';
import type { WorktreeManager } from '../infra/git/worktrees.ts';
import type { Supervisor, TreeNode } from '../supervisor/index.ts';
import type { IssueSource } from '../issues/source.ts';
import type { Workflow } from '../workflow/engine.ts';
import type { IssueWatcher } from '../workflow/watcher.ts';
import type { IssueVouchers } from '../workflow/vouchers.ts';
import type { WorkspacePort } from '../workflow/ports.ts';
import type { WorkflowMetrics } from '../workflow/metrics.ts';
import type { HealthReport } from '../machines/health-monitor.ts';
import type { TaskSamples } from '../machines/health-anomaly.ts';
import type { InspectionHub } from './inspection.ts';
import type { LeaderLease } from '../cluster/leader-lease.ts';
import type { Refusal } from '../cluster/members.ts';
import type { Fence } from './leader-fence.ts';

/** Runners started ahead, one per role, for a fresh agent to take over (./spare-runners.ts). */
export interface Spares {
  /** The spare of `role`, claimed as `agentId`; undefined when none is ready (start one's own). */
  claim(role: string, agentId: string, title: string): Promise<PaneHandle | undefined>;
  /** Stops the spares. */
  close(): void;
}

/**
 * The faults the MTTR counts (`miyabi_recovery_seconds{fault}`), by a key naming what is to run
 * again (an actor, `task <id>`): the first fault of a key counts until its recovery. Built by the
 * assembly (src/orchestra/supervisor-events.ts), which also tells each to the bus as a KPI fact.
 */
export interface FaultBook {
  noticed(key: string, fault: Fault, now: number): void;
  recovered(key: string, now: number): void;
}

export interface OrchestraResources {
  readonly config: OrchestraConfig;
  /** The config file the orchestra runs on, for the runners it starts; undefined for the embedded default. */
  readonly configPath: string | undefined;
  /** Batch mode (`up --once`): it stops once the backlog settled. */
  readonly batch: boolean;
  readonly secrets: Secrets;
  /** Every value known to be secret (config/secrets.ts `knownSecretValues`, the NATS seeds included). */
  readonly secretValues: readonly string[];
  /** Replaces those values in text that leaves the orchestra: comments, pull requests, the console. */
  readonly redact: Redact;
  /** The NATS identities (src/orchestra/nats-auth.ts); undefined on an external NATS without them. */
  readonly natsIdentities: ReadonlyMap<string, NatsIdentity> | undefined;
  /** What the issue watcher of this process published: the workflow acts on nothing else unchecked. */
  readonly issueVouchers: IssueVouchers;
  readonly logger: Logger;
  readonly metrics: OrchestraMetrics;
  /** The workflow's metrics, on the same registry. */
  readonly workflowMetrics: WorkflowMetrics;
  readonly busObserver: BusObserver;
  /** Where to reach NATS: the embedded server's URL, or the configured ones. */
  readonly natsServers: string[];
  /** Set by the bus-connection actor while it is connected. */
  nc: NatsConnection | undefined;
  bus: Bus | undefined;
  /** The target repository's worktrees, one per issue. */
  readonly worktrees: WorktreeManager;
  /** The target repository's branches, as the workflow makes, restacks and merges them. */
  readonly workspace: WorkspacePort;
  /** The runner as bundled JavaScript (faster to start), when it could be built. */
  runnerBundle: string | undefined;
  /** Set by the panes actor while it runs: runners started ahead, for agents to take over. */
  spares: Spares | undefined;
  /** Set by the panes actor while it runs: where agent runners are started. */
  paneDriver: PaneDriver | undefined;
  /** Where issues come from and where results are written back (local files or GitHub). */
  readonly issueSource: IssueSource | undefined;
  /** Edges of workflow.dependenciesFile, parsed at start. */
  readonly extraDependencies: ReadonlyMap<number, readonly number[]> | undefined;
  /** Pushes an issue's branch to the remote before its pull request (GitHub with a remote). */
  readonly pushBranch: ((branch: string) => Promise<void>) | undefined;
  /** Set by the workflow actor while it runs. */
  workflow: Workflow | undefined;
  /** Set by the workflow actor while it runs: what agents spent, and what the budget admits (docs/BUDGETS.md). */
  budget: BudgetLedger | undefined;
  /** The clock of the budget day: the system's, or a test's. */
  readonly budgetClock: () => number;
  /** Recent task durations and outcomes per role, for the health monitor's anomaly checks. */
  readonly taskSamples: TaskSamples;
  /** Faults noticed outside the supervisors' events (a task stopped at its timeout), and their recoveries. */
  readonly faults: FaultBook;
  /** When each agent's runner last sent a heartbeat (ms), for the health monitor. */
  readonly heartbeats: Map<string, number>;
  /** The health monitor's last report. */
  lastHealth?: HealthReport;
  /** Cluster mode: this node's part in the leader lease, set by the leadership actor while it runs (docs/CLUSTER.md). */
  lease?: LeaderLease;
  /** Cluster mode, while this node leads: the epoch it was elected with, and the fence every leader-only write passes first. */
  leaderEpoch?: number;
  fence?: Fence;
  /** Cluster mode, while this node leads: when it was elected (ms), for `status`. */
  leaderSince?: number;
  /** Cluster mode: set by the membership actor while the leader refuses this node (its config differs): it takes no tasks and does not stand for the lease. */
  clusterRefusal?: Refusal;
  /** Set by the issue watcher while it runs. */
  watcher: IssueWatcher | undefined;
  /** The actors' inspection events: to the console's live clients and the history stream (./inspection.ts). */
  readonly inspection: InspectionHub;
  /** Set by the http actor once listening. */
  httpUrl: string | undefined;
  /** The root supervisor, to reach a pool (the scaler). */
  root(): Supervisor | undefined;
  /** The whole tree as plain data (root supervisor's inspect). */
  inspect(): TreeNode;
  /** Ask the orchestra to stop gracefully (from `miyabi-orchestra stop`). */
  requestStop(reason: string): void;
  readonly startedAt: Date;
}
