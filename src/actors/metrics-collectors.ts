/**
 * The metrics read when Prometheus scrapes (docs/METRICS.md), from what the actors share: the
 * agents of every pool by state (`miyabi_agents`, every state of every role present, stopped
 * agents gone with the tree), each agent's process tree from /proc, the queue per role (the
 * scheduler's waiting tasks plus those on the bus no runner took yet), the tasks in flight and
 * those of them past their role's limit,
 * the dead letters, and the runners' side of the bus from the task consumers' info (a runner's
 * own counters never leave its process: what it was given, acked and had redelivered is what
 * JetStream knows of its consumer).
 */
import { Counter, Gauge } from 'prom-client';
import { describeError } from '../errors.ts';
import type { StreamSummary } from '../infra/bus/inspect.ts';
import { processTable, processTreeUsage } from '../infra/os/usage.ts';
import type { Supervisor, TreeNode } from '../supervisor/index.ts';
import { taskDurable } from '../runner/task-message.ts';
import { tasksInFlight } from './health-checks.ts';
import type { OrchestraResources } from './resources.ts';

/**
 * The states of `miyabi_agents`: restarting is an agent its pool is starting again;
 * waiting_for_broker, one whose heartbeats stopped while the broker did not answer either (it is
 * not blamed: src/machines/agent-pane.ts), from the moment the broker is asked.
 */
export const AGENT_STATES = ['spawning', 'idle', 'busy', 'waiting_for_broker', 'unresponsive', 'overdue', 'failed', 'restarting'] as const;

/** An agent's state as `miyabi_agents` counts it, from its node in the tree. */
export function agentState(node: TreeNode): (typeof AGENT_STATES)[number] | undefined {
  if (node.status === 'stopping') return undefined;
  if (node.status !== 'running') return 'restarting';
  if (node.state.includes('askingBroker') || node.state.includes('waitingForBroker')) return 'waiting_for_broker';
  for (const state of ['idle', 'busy', 'spawning', 'unresponsive', 'overdue'] as const) if (node.state.includes(state)) return state;
  return 'failed';
}

function roles(resources: OrchestraResources): string[] {
  return Object.keys(resources.config.agents).filter((role) => role !== 'conductor');
}

function pools(resources: OrchestraResources): Array<{ role: string; pool: Supervisor | undefined }> {
  const agents = resources.root()?.childSupervisor('agents');
  return roles(resources).map((role) => ({ role, pool: agents?.childSupervisor(`pool.${role}`) }));
}

export function registerScrapeMetrics(resources: OrchestraResources): void {
  const registers = [resources.metrics.registry];
  const logger = resources.logger.child({ actorId: 'metrics' });
  let streams: { at: number; value: Promise<StreamSummary[] | undefined> } | undefined;
  /** One read of the streams per scrape, shared by the collectors below. */
  const readStreams = () => {
    const now = Date.now();
    if (!streams || now - streams.at > 1_000) {
      const bus = resources.bus;
      streams = {
        at: now,
        value: bus
          ? bus.streams().catch((error: unknown) => {
              logger.warn({ err: describeError(error) }, 'streams not readable for the metrics');
              return undefined;
            })
          : Promise.resolve(undefined),
      };
    }
    return streams.value;
  };
  const consumerOf = (summaries: StreamSummary[] | undefined, role: string) =>
    summaries?.find((stream) => stream.name === resources.bus?.topology.streams.tasks)?.consumers.find((consumer) => consumer.name === taskDurable(role));

  new Gauge({
    name: 'miyabi_agents',
    help: 'Agents per role and state: spawning, idle, busy, unresponsive, overdue, failed, restarting (every state present, 0 when none)',
    labelNames: ['role', 'state'],
    registers,
    collect() {
      this.reset();
      for (const { role, pool } of pools(resources)) {
        const counts = new Map<string, number>(AGENT_STATES.map((state) => [state, 0]));
        for (const node of pool?.inspect().children ?? []) {
          const state = agentState(node);
          if (state) counts.set(state, counts.get(state)! + 1);
        }
        for (const [state, count] of counts) this.set({ role, state }, count);
      }
    },
  });

  const usage = () => {
    const table = processTable();
    const rows: Array<{ role: string; agent: string; cpuSeconds: number; residentBytes: number }> = [];
    for (const { role, pool } of pools(resources)) {
      for (const agent of pool?.childIds() ?? []) {
        const pid = (pool?.childActor(agent)?.getSnapshot() as { context?: { pid?: number } } | undefined)?.context?.pid;
        const tree = pid === undefined ? undefined : processTreeUsage(pid, table);
        if (tree) rows.push({ role, agent, ...tree });
      }
    }
    return rows;
  };
  new Counter({
    name: 'miyabi_agent_cpu_seconds_total',
    help: 'CPU seconds of each agent\'s process tree (its runner and the agent program), from /proc; starts again from 0 when the agent restarts',
    labelNames: ['role', 'agent'],
    registers,
    collect() {
      this.reset();
      for (const row of usage()) this.inc({ role: row.role, agent: row.agent }, row.cpuSeconds);
    },
  });
  new Gauge({
    name: 'miyabi_agent_resident_memory_bytes',
    help: 'Resident memory of each agent\'s process tree (its runner and the agent program), from /proc',
    labelNames: ['role', 'agent'],
    registers,
    collect() {
      this.reset();
      for (const row of usage()) this.set({ role: row.role, agent: row.agent }, row.residentBytes);
    },
  });

  new Gauge({
    name: 'miyabi_queue_depth',
    help: 'Tasks waiting per role: ready in the scheduler\'s queue, or on the bus and not yet taken by a runner',
    labelNames: ['role'],
    registers,
    async collect() {
      const summaries = await readStreams();
      const queued = resources.workflow?.queue.queue.queued(Date.now()) ?? [];
      this.reset();
      for (const role of roles(resources)) {
        const onBus = consumerOf(summaries, role)?.pending ?? 0;
        this.set({ role }, queued.filter((task) => task.role === role).length + onBus);
      }
    },
  });
  new Gauge({
    name: 'miyabi_tasks_in_flight',
    help: 'Tasks dispatched to a role and not finished (the scheduler\'s running slots)',
    labelNames: ['role'],
    registers,
    collect() {
      const queue = resources.workflow?.queue.queue;
      this.reset();
      for (const role of roles(resources)) this.set({ role }, queue?.running(role) ?? 0);
    },
  });
  new Gauge({
    name: 'miyabi_tasks_overdue',
    help: 'Tasks in flight past the longest their role allows — (its timeout + grace + the heartbeat deadline) × bus.maxDeliver, the health monitor\'s task_stuck — per role',
    labelNames: ['role'],
    registers,
    collect() {
      const overdue = tasksInFlight(resources, Date.now()).filter((task) => task.ageMs > task.limitMs);
      this.reset();
      for (const role of roles(resources)) this.set({ role }, overdue.filter((task) => task.role === role).length);
    },
  });
  new Gauge({
    name: 'miyabi_dead_letters',
    help: 'Messages in the dead-letter stream (MIYABI_DLQ): tasks and events the bus gave up on',
    registers,
    async collect() {
      const summaries = await readStreams();
      const dlq = summaries?.find((stream) => stream.name === resources.bus?.topology.streams.dlq);
      this.set(dlq?.messages ?? 0);
    },
  });
  new Gauge({
    name: 'miyabi_runner_consumer',
    help: 'The runners\' side of the bus, from each role\'s task consumer (agents-<role>): delivered (last delivered sequence), acked (ack floor), redelivered, ack_pending, waiting (idle pulls)',
    labelNames: ['role', 'field'],
    registers,
    async collect() {
      const summaries = await readStreams();
      this.reset();
      for (const role of roles(resources)) {
        const consumer = consumerOf(summaries, role);
        const fields = {
          delivered: consumer?.deliveredSeq ?? 0,
          acked: consumer?.ackFloorSeq ?? 0,
          redelivered: consumer?.redelivered ?? 0,
          ack_pending: consumer?.ackPending ?? 0,
          waiting: consumer?.waiting ?? 0,
        };
        for (const [field, value] of Object.entries(fields)) this.set({ role, field }, value);
      }
    },
  });
}
