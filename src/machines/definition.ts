/**
 * A machine's statechart as plain JSON, read from the machine definition itself (its state
 * nodes), never drawn by hand: what `/api/machines` serves and `miyabi-orchestra machines`
 * prints, and what ./diagram.ts turns into mermaid text or a graph to lay out.
 *
 *   describeMachine(agentPaneMachine).root.states[0].transitions[0]
 *   // { event: 'agent.heartbeat', kind: 'event', targets: ['agent-pane.alive.ready'], … }
 *
 * Every transition of every state is listed: `kind` tells an event's from an `after` delay (its
 * delay named, or in ms) and an eventless `always`; a guard is named (`inline` when it is an
 * anonymous function, `not(x)` / `and(a, b)` for XState's combinators). A transition without a
 * target (it stays, running its actions) has `targets: []`. Pure: no I/O.
 */
import type { AnyStateMachine } from 'xstate';

export type StateKind = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';

export interface TransitionJson {
  /** The event type; `always` for an eventless transition, the XState after-event for a delay. */
  event: string;
  kind: 'event' | 'after' | 'always';
  /** An `after` transition's delay: its name in the machine's `delays`, or milliseconds. */
  delay?: string | number;
  guard?: string;
  /** State ids (`agent-pane.alive.ready`); empty when the transition stays where it is. */
  targets: string[];
  reenter: boolean;
  /** Named actions, in order (inline ones as `inline`). */
  actions: string[];
}

export interface StateJson {
  /** Unique in the machine: `agent-pane.alive.ready.idle`. */
  id: string;
  key: string;
  type: StateKind;
  /** The id of the initial child of a compound state. */
  initial?: string;
  tags: string[];
  /** Invoked actors' sources (`runner`, `check`). */
  invokes: string[];
  transitions: TransitionJson[];
  states: StateJson[];
}

export interface MachineJson {
  id: string;
  root: StateJson;
}

/** The node shape we read: XState's StateNode, only the fields used here. */
interface NodeLike {
  id: string;
  key: string;
  type: StateKind;
  tags: string[];
  initial?: { target?: Array<{ id: string }> };
  states: Record<string, NodeLike>;
  transitions: Map<string, TransitionLike[]>;
  always?: TransitionLike[];
  invoke?: Array<{ src: unknown }>;
}

interface TransitionLike {
  eventType: string;
  target?: Array<{ id: string }>;
  guard?: unknown;
  delay?: string | number;
  reenter?: boolean;
  actions?: unknown[];
}

export function describeMachine(machine: AnyStateMachine): MachineJson {
  return { id: machine.id, root: describeState(machine.root as unknown as NodeLike) };
}

function describeState(node: NodeLike): StateJson {
  const initial = node.initial?.target?.[0]?.id;
  const eventTransitions = [...node.transitions.values()].flat().map((transition) => describeTransition(transition, transition.delay === undefined ? 'event' : 'after'));
  const always = (node.always ?? []).map((transition) => describeTransition(transition, 'always'));
  return {
    id: node.id,
    key: node.key,
    type: node.type,
    ...(initial === undefined ? {} : { initial }),
    tags: [...node.tags],
    invokes: (node.invoke ?? []).map((invoke) => nameOf(invoke.src)),
    transitions: [...eventTransitions, ...always],
    states: Object.values(node.states).map(describeState),
  };
}

function describeTransition(transition: TransitionLike, kind: TransitionJson['kind']): TransitionJson {
  const guard = transition.guard === undefined ? undefined : nameOf(transition.guard);
  return {
    event: kind === 'always' ? 'always' : transition.eventType,
    kind,
    ...(transition.delay === undefined ? {} : { delay: transition.delay }),
    ...(guard === undefined ? {} : { guard }),
    targets: (transition.target ?? []).map((target) => target.id),
    reenter: transition.reenter === true,
    actions: (transition.actions ?? []).filter((action) => action !== null && action !== undefined).map(nameOf),
  };
}

/** A guard's, action's or actor's name: a string, `{ type }`, or XState's combinators. */
function nameOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { type?: unknown }).type === 'string') return (value as { type: string }).type;
  if (typeof value === 'function') {
    const combinator = value as { guards?: unknown[]; check?: unknown; name?: string };
    if (Array.isArray(combinator.guards)) {
      const kind = value.name && value.name !== 'guard' ? value.name : 'guards';
      return `${kind}(${combinator.guards.map(nameOf).join(', ')})`;
    }
    return value.name && !['guard', 'action', 'resolveAndExecute'].includes(value.name) ? value.name : 'inline';
  }
  return 'inline';
}

/** Every state of the machine, depth first, the root included. */
export function allStates(machine: MachineJson): StateJson[] {
  const walk = (state: StateJson): StateJson[] => [state, ...state.states.flatMap(walk)];
  return walk(machine.root);
}
