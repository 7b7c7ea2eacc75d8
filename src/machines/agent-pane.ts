/**
 * One agent instance as the orchestrator sees it: a runner process (in a tmux pane or headless)
 * that it started, and the heartbeats that runner sends.
 *
 *   spawning ──heartbeat──▶ ready.idle ⇄ ready.busy
 *      │                      │  no heartbeat for missedHeartbeats × interval → unresponsive
 *      └─ no heartbeat in spawnTimeoutMs ─┘  busy past taskTimeoutMs + grace → overdue
 *   the heartbeat deadline is suspended from `bus.disconnected` to `bus.reconnected`, which
 *     starts a fresh one: a silence the orchestrator could not have heard (its own connection
 *     down, the broker restarting) is not the runner's
 *   at the deadline the broker is asked first (`brokerAnswers`): a broker that does not answer
 *     (connected but stalled: a full disk wedges nats-server) could not have carried the
 *     heartbeats either, so the agent waits for it (`brokerBack`) and gets a fresh deadline
 *   unresponsive / overdue / runner exited → the actor fails, and its supervisor kills the runner
 *   (the invoked `runner` is stopped) and starts a fresh one: a crash, counted and backed off.
 *
 * Effects are injected: `runner` starts the process and reports its exit, `heartbeats` delivers
 * heartbeat events, `show` renders the status (pane title), `terminateRunner` asks for a graceful
 * stop. The machine decides; it never touches a process, a socket or a clock of its own.
 */
import { assign, enqueueActions, fromCallback, fromPromise, raise, setup } from 'xstate';
import { ErrorCodes, MiyabiError } from '../errors.ts';

export interface AgentPaneInput {
  agentId: string;
  role: string;
  displayName: string;
  heartbeatIntervalMs: number;
  /** Heartbeats that may go missing before the agent counts as unresponsive. */
  missedHeartbeats: number;
  /** The role's task timeout; the runner enforces it, this is the backstop. */
  taskTimeoutMs: number;
  /** Extra time past the task timeout for the runner to kill its agent and report. */
  taskGraceMs: number;
  /** How long a new runner may take to send its first heartbeat. */
  spawnTimeoutMs: number;
}

export interface Heartbeat {
  agentId: string;
  state: 'idle' | 'busy';
  taskId?: string;
  issue?: number;
  pid: number;
}

export type AgentPaneEvent =
  | { type: 'runner.started'; pid: number }
  | { type: 'runner.exited'; code: number | null; signal: string | null }
  | { type: 'agent.heartbeat'; heartbeat: Heartbeat }
  /** The orchestrator's own bus connection lost / back: no heartbeat can reach it meanwhile. */
  | { type: 'bus.disconnected' }
  | { type: 'bus.reconnected' }
  | { type: 'supervisor.shutdown' };

export interface AgentPaneContext extends AgentPaneInput {
  pid: number | undefined;
  taskId: string | undefined;
  issue: number | undefined;
  heartbeats: number;
  failure: string | undefined;
  /** The orchestrator's bus connection is down: heartbeats cannot arrive, their absence says nothing. */
  busDown: boolean;
}

/** What the pane title and the status show for an agent: name, role, state, current issue. */
export interface AgentStatusLine {
  agentId: string;
  displayName: string;
  role: string;
  state: string;
  issue: number | undefined;
}

export const agentPaneMachine = setup({
  types: {
    input: {} as AgentPaneInput,
    context: {} as AgentPaneContext,
    events: {} as AgentPaneEvent | { type: 'task.overdue'; taskId: string } | { type: 'agent.fail' },
  },
  actors: {
    runner: fromCallback<AgentPaneEvent, { agentId: string }>(() => () => {}),
    heartbeats: fromCallback<AgentPaneEvent, { agentId: string }>(() => () => {}),
    /** Whether the broker answers now (its JetStream API): false when it could not have carried a heartbeat. */
    brokerAnswers: fromPromise<boolean>(async () => true),
    /** Resolves once the broker answers again. */
    brokerBack: fromPromise<void>(async () => undefined),
  },
  actions: {
    show: (_, _status: AgentStatusLine) => {},
    terminateRunner: () => {},
    fail: ({ context }) => {
      throw new MiyabiError(ErrorCodes.AgentUnhealthy, `agent ${context.agentId}: ${context.failure}`);
    },
    blameOverdue: assign({
      failure: ({ context }) => `task ${context.taskId} still running past its ${context.taskTimeoutMs} ms timeout`,
    }),
    blameSilence: assign({
      failure: ({ context }) => `unresponsive: no heartbeat for ${context.missedHeartbeats} × ${context.heartbeatIntervalMs} ms`,
    }),
    recordHeartbeat: assign(({ context, event }) => {
      if (event.type !== 'agent.heartbeat') return {};
      const { heartbeat } = event;
      const busy = heartbeat.state === 'busy';
      return {
        heartbeats: context.heartbeats + 1,
        pid: heartbeat.pid,
        taskId: busy ? heartbeat.taskId : undefined,
        issue: busy ? heartbeat.issue : undefined,
      };
    }),
  },
  guards: {
    isCurrentTask: ({ context, event }) => event.type === 'task.overdue' && event.taskId === context.taskId,
  },
  delays: {
    heartbeatDeadline: ({ context }) => context.heartbeatIntervalMs * context.missedHeartbeats,
    spawnDeadline: ({ context }) => context.spawnTimeoutMs,
  },
}).createMachine({
  id: 'agent-pane',
  context: ({ input }) => ({ ...input, pid: undefined, taskId: undefined, issue: undefined, heartbeats: 0, failure: undefined, busDown: false }),
  initial: 'alive',
  states: {
   // The runner lives exactly as long as `alive`: leaving it for a failure stops the invoked
   // runner (killing its process) before the failure is raised. An actor that errors does not
   // stop its invoked children by itself.
   alive: {
    invoke: [
      { id: 'runner', src: 'runner', input: ({ context }) => ({ agentId: context.agentId }) },
      { id: 'heartbeats', src: 'heartbeats', input: ({ context }) => ({ agentId: context.agentId }) },
    ],
    initial: 'spawning',
    on: {
      'runner.started': { actions: assign({ pid: ({ event }) => event.pid }) },
      'runner.exited': {
        target: '#agent-pane.failed',
        actions: assign({ failure: ({ event }) => `runner exited (code ${event.code ?? '-'}, signal ${event.signal ?? '-'})` }),
      },
      'supervisor.shutdown': '.stopping',
      'bus.disconnected': { actions: assign({ busDown: true }) },
      'bus.reconnected': { actions: assign({ busDown: false }) },
    },
    states: {
    spawning: {
      tags: ['starting'],
      entry: { type: 'show', params: ({ context }) => statusLine(context, 'spawning') },
      on: { 'agent.heartbeat': 'ready' },
      after: {
        spawnDeadline: {
          target: '#agent-pane.failed',
          actions: assign({ failure: ({ context }) => `no heartbeat within ${context.spawnTimeoutMs} ms of starting` }),
        },
      },
    },
    ready: {
      initial: 'deciding',
      // Entered on every heartbeat (see below), with the heartbeat as the event.
      entry: [
        /**
         * The task deadline is a delayed event, not a state timer, so the heartbeats that
         * re-enter `ready` (restarting the liveness deadline) don't restart it: it is set when a
         * new task is seen and cancelled when the agent is idle again.
         */
        enqueueActions(({ context, event, enqueue }) => {
          if (event.type !== 'agent.heartbeat') return;
          const { heartbeat } = event;
          const taskId = heartbeat.state === 'busy' ? heartbeat.taskId : undefined;
          if (taskId === context.taskId) return;
          enqueue.cancel(TASK_DEADLINE);
          if (taskId !== undefined) {
            enqueue.raise({ type: 'task.overdue', taskId }, { id: TASK_DEADLINE, delay: context.taskTimeoutMs + context.taskGraceMs });
          }
        }),
        'recordHeartbeat',
      ],
      on: {
        // Re-entering `ready` restarts its liveness deadline.
        'agent.heartbeat': { target: 'ready', reenter: true },
        'bus.reconnected': { target: 'ready', reenter: true, actions: assign({ busDown: false }) },
        'task.overdue': { guard: 'isCurrentTask', target: '#agent-pane.overdue', actions: 'blameOverdue' },
      },
      after: {
        heartbeatDeadline: { guard: ({ context }) => !context.busDown, target: 'askingBroker' },
      },
      states: {
        deciding: { always: [{ guard: ({ context }) => context.taskId !== undefined, target: 'busy' }, { target: 'idle' }] },
        idle: { entry: { type: 'show', params: ({ context }) => statusLine(context, 'idle') } },
        busy: { entry: { type: 'show', params: ({ context }) => statusLine(context, 'busy') } },
      },
    },
    // No heartbeat by the deadline: the runner's silence, or the broker's?
    askingBroker: {
      invoke: {
        src: 'brokerAnswers',
        onDone: [
          { guard: ({ event }) => event.output === false, target: 'waitingForBroker' },
          { target: '#agent-pane.unresponsive', actions: 'blameSilence' },
        ],
        onError: { target: '#agent-pane.unresponsive', actions: 'blameSilence' },
      },
      on: {
        'agent.heartbeat': 'ready',
        'bus.reconnected': { target: 'ready', actions: assign({ busDown: false }) },
        'task.overdue': { guard: 'isCurrentTask', target: '#agent-pane.overdue', actions: 'blameOverdue' },
      },
    },
    waitingForBroker: {
      entry: { type: 'show', params: ({ context }) => statusLine(context, 'waiting for the broker') },
      invoke: { src: 'brokerBack', onDone: 'ready', onError: 'ready' },
      on: {
        'agent.heartbeat': 'ready',
        'bus.reconnected': { target: 'ready', actions: assign({ busDown: false }) },
        'task.overdue': { guard: 'isCurrentTask', target: '#agent-pane.overdue', actions: 'blameOverdue' },
      },
    },
    stopping: {
      entry: [{ type: 'show', params: ({ context }) => statusLine(context, 'stopping') }, 'terminateRunner'],
      on: { 'runner.exited': '#agent-pane.stopped', 'agent.heartbeat': {}, 'task.overdue': {}, 'supervisor.shutdown': {}, 'bus.reconnected': {} },
    },
    },
   },
    // The failure is raised one step later: XState runs the stop of `alive`'s runner after the
    // step that leaves it, and drops it if that step throws.
    unresponsive: {
      entry: [{ type: 'show', params: ({ context }) => statusLine(context, 'unresponsive') }, raise({ type: 'agent.fail' }, { delay: 0 })],
      on: { 'agent.fail': { actions: 'fail' } },
    },
    overdue: {
      entry: [{ type: 'show', params: ({ context }) => statusLine(context, 'overdue') }, raise({ type: 'agent.fail' }, { delay: 0 })],
      on: { 'agent.fail': { actions: 'fail' } },
    },
    failed: {
      entry: [{ type: 'show', params: ({ context }) => statusLine(context, 'dead') }, raise({ type: 'agent.fail' }, { delay: 0 })],
      on: { 'agent.fail': { actions: 'fail' } },
    },
    stopped: { type: 'final' },
  },
});

const TASK_DEADLINE = 'task-deadline';

function statusLine(context: AgentPaneContext, state: string): AgentStatusLine {
  return { agentId: context.agentId, displayName: context.displayName, role: context.role, state, issue: context.issue };
}
