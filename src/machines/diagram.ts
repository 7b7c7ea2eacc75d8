/**
 * A machine's statechart (./definition.ts) as a picture's source: mermaid `stateDiagram-v2`
 * text (what `miyabi-orchestra machines --format mermaid` prints), and a node/edge graph in
 * ELK's JSON shape (nested `children`, `edges` with `sources`/`targets`) that the console lays
 * out with elkjs. Pure: the same definition gives the same text.
 *
 *   toMermaid(describeMachine(agentPaneMachine))
 *   // stateDiagram-v2
 *   //   [*] --> agent_pane__alive
 *   //   state "alive" as agent_pane__alive { … }
 *   //   agent_pane__alive__spawning --> agent_pane__failed : after spawnDeadline
 *
 * A transition that stays where it is (no target) is drawn as a loop on its state, so every
 * transition of the definition appears; an eventless one is labelled `always`, a delayed one
 * `after <delay>`, a guarded one `[guard]`.
 */
import type { MachineJson, StateJson, TransitionJson } from './definition.ts';

/** A mermaid identifier for a state id: `agent-pane.alive` → `agent_pane__alive`. */
export function mermaidId(stateId: string): string {
  return stateId.replace(/\./g, '__').replace(/[^A-Za-z0-9_]/g, '_');
}

/** What an edge says: `task.overdue [inline]`, `after heartbeatDeadline`, `always [isLastStage]`. */
export function transitionLabel(transition: TransitionJson): string {
  const trigger = transition.kind === 'after' ? `after ${transition.delay}` : transition.event;
  return transition.guard === undefined ? trigger : `${trigger} [${transition.guard}]`;
}

/** Mermaid ends a label at a newline and reads `:` and `;` as syntax. */
const safeLabel = (text: string): string => text.replace(/[:;\n\r"]/g, ' ').trim();

export function toMermaid(machine: MachineJson): string {
  const lines = ['stateDiagram-v2'];
  const edges: string[] = [];
  const declare = (state: StateJson, indent: string): void => {
    const id = mermaidId(state.id);
    if (state.states.length === 0) {
      lines.push(`${indent}state "${safeLabel(state.key)}" as ${id}`);
    } else {
      lines.push(`${indent}state "${safeLabel(state.key)}" as ${id} {`);
      body(state, `${indent}  `);
      lines.push(`${indent}}`);
    }
    if (state.type === 'final') edges.push(`  ${id} --> [*]`);
  };
  const body = (parent: StateJson, indent: string): void => {
    if (parent.initial !== undefined) lines.push(`${indent}[*] --> ${mermaidId(parent.initial)}`);
    for (const [index, child] of parent.states.entries()) {
      if (parent.type === 'parallel' && index > 0) lines.push(`${indent}--`);
      declare(child, indent);
    }
  };
  const collect = (state: StateJson): void => {
    for (const transition of state.transitions) {
      const label = safeLabel(transitionLabel(transition));
      const targets = transition.targets.length > 0 ? transition.targets : [state.id];
      for (const target of targets) edges.push(`  ${mermaidId(state.id)} --> ${mermaidId(target)} : ${label}`);
    }
    state.states.forEach(collect);
  };
  // The root is the machine itself: its children are drawn at the top level, its own
  // transitions (handled in every state) leave from a box standing for the whole machine.
  const { root } = machine;
  if (root.transitions.length > 0) lines.push(`  state "${safeLabel(root.key)} (any state)" as ${mermaidId(root.id)}`);
  body(root, '  ');
  collect(root);
  return `${[...lines, ...edges].join('\n')}\n`;
}

export interface GraphNode {
  /** The state id. */
  id: string;
  labels: Array<{ text: string }>;
  type: StateJson['type'];
  /** This state is its parent's initial state. */
  initial: boolean;
  tags: string[];
  children: GraphNode[];
}

export interface GraphEdge {
  id: string;
  sources: [string];
  targets: [string];
  labels: Array<{ text: string }>;
  event: string;
  kind: TransitionJson['kind'];
  guard?: string;
  delay?: string | number;
}

/** ELK's JSON graph: the root node stands for the machine, its children are the states. */
export interface MachineGraph {
  id: string;
  children: GraphNode[];
  edges: GraphEdge[];
}

export function toGraph(machine: MachineJson): MachineGraph {
  const edges: GraphEdge[] = [];
  const node = (state: StateJson, initial: boolean): GraphNode => {
    for (const transition of state.transitions) {
      const targets = transition.targets.length > 0 ? transition.targets : [state.id];
      for (const target of targets) {
        edges.push({
          id: `e${edges.length}`,
          sources: [state.id],
          targets: [target],
          labels: [{ text: transitionLabel(transition) }],
          event: transition.event,
          kind: transition.kind,
          ...(transition.guard === undefined ? {} : { guard: transition.guard }),
          ...(transition.delay === undefined ? {} : { delay: transition.delay }),
        });
      }
    }
    return {
      id: state.id,
      labels: [{ text: state.key }],
      type: state.type,
      initial,
      tags: state.tags,
      children: state.states.map((child) => node(child, child.id === state.initial)),
    };
  };
  const root = node(machine.root, true);
  return { id: machine.id, children: [root], edges };
}
