/**
 * The definition → diagram conversion of every machine in src/machines: each state and each
 * transition of the machine (read here straight from XState's state nodes) appears in the
 * JSON definition, the mermaid text and the ELK graph.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AnyStateMachine } from 'xstate';
import { MACHINES, machineDefinitions } from '../../src/machines/catalog.ts';
import { allStates, describeMachine } from '../../src/machines/definition.ts';
import { mermaidId, toGraph, toMermaid } from '../../src/machines/diagram.ts';

interface RawTransition {
  source: string;
  event: string;
  targets: string[];
  delay?: unknown;
}

/** Every state id and every transition, straight from XState's state nodes. */
function rawMachine(machine: AnyStateMachine): { states: string[]; transitions: RawTransition[] } {
  const states: string[] = [];
  const transitions: RawTransition[] = [];
  const walk = (node: any): void => {
    states.push(node.id);
    for (const list of node.transitions.values()) {
      for (const t of list) transitions.push({ source: node.id, event: t.eventType, targets: (t.target ?? []).map((x: any) => x.id), delay: t.delay });
    }
    for (const t of node.always ?? []) transitions.push({ source: node.id, event: 'always', targets: (t.target ?? []).map((x: any) => x.id) });
    for (const child of Object.values(node.states)) walk(child);
  };
  walk(machine.root);
  return { states, transitions };
}

const machinesDir = path.resolve(import.meta.dirname, '../../src/machines');

describe('the machine catalog', () => {
  it('holds every XState machine exported by src/machines', async () => {
    const found: string[] = [];
    for (const file of readdirSync(machinesDir).filter((name) => name.endsWith('.ts'))) {
      const module = (await import(path.join(machinesDir, file))) as Record<string, unknown>;
      for (const value of Object.values(module)) {
        if (value && typeof value === 'object' && 'root' in value && 'config' in value && 'transition' in value) found.push((value as AnyStateMachine).id);
      }
    }
    expect(found.length).toBeGreaterThanOrEqual(4);
    expect(MACHINES.map((machine) => machine.id).sort()).toEqual([...new Set(found)].sort());
  });
});

describe.each(MACHINES.map((machine) => [machine.id, machine] as const))('the %s machine', (_id, machine) => {
  const raw = rawMachine(machine);
  const definition = describeMachine(machine);

  it('is described whole: every state and every transition, with its event and targets', () => {
    expect(allStates(definition).map((state) => state.id).sort()).toEqual([...raw.states].sort());
    const described = allStates(definition).flatMap((state) =>
      state.transitions.map((transition) => ({ source: state.id, event: transition.event, targets: transition.targets })),
    );
    expect(described).toHaveLength(raw.transitions.length);
    for (const transition of raw.transitions) {
      expect(described).toContainEqual({ source: transition.source, event: transition.event, targets: transition.targets });
    }
  });

  it('draws every state and every transition in mermaid', () => {
    const text = toMermaid(definition);
    expect(text.startsWith('stateDiagram-v2\n')).toBe(true);
    for (const state of raw.states.slice(1)) {
      expect(text).toMatch(new RegExp(`state "[^"]+" as ${mermaidId(state)}\\b`));
    }
    const edges = text.split('\n').filter((line) => / --> /.test(line) && !line.includes('[*]'));
    expect(edges).toHaveLength(raw.transitions.reduce((sum, t) => sum + Math.max(1, t.targets.length), 0));
    for (const transition of raw.transitions) {
      const trigger = transition.delay === undefined ? transition.event : `after ${String(transition.delay)}`;
      for (const target of transition.targets.length > 0 ? transition.targets : [transition.source]) {
        expect(edges.some((line) => line.startsWith(`  ${mermaidId(transition.source)} --> ${mermaidId(target)} : ${trigger}`))).toBe(true);
      }
    }
  });

  it('makes an ELK graph with a node per state and an edge per transition target', () => {
    const graph = toGraph(definition);
    const ids: string[] = [];
    const walk = (node: { id: string; children: Array<{ id: string; children: never[] }> }): void => {
      ids.push(node.id);
      node.children.forEach(walk as never);
    };
    graph.children.forEach(walk as never);
    expect(ids.sort()).toEqual([...raw.states].sort());
    for (const transition of raw.transitions) {
      for (const target of transition.targets.length > 0 ? transition.targets : [transition.source]) {
        expect(graph.edges.some((edge) => edge.sources[0] === transition.source && edge.targets[0] === target && edge.event === transition.event)).toBe(true);
      }
    }
    expect(new Set(graph.edges.map((edge) => edge.id)).size).toBe(graph.edges.length);
  });
});

describe('what the definitions name', () => {
  const byId = new Map(machineDefinitions().map((machine) => [machine.id, machine]));

  it('names guards, after delays and always transitions', () => {
    const lifecycle = allStates(byId.get('issue-lifecycle')!);
    const advancing = lifecycle.find((state) => state.key === 'advancing')!;
    expect(advancing.transitions).toContainEqual(expect.objectContaining({ kind: 'always', guard: 'isLastStage', targets: ['issue-lifecycle.done'] }));
    const waiting = allStates(byId.get('health-monitor')!).find((state) => state.key === 'waiting')!;
    expect(waiting.transitions).toContainEqual(expect.objectContaining({ kind: 'after', delay: 'interval', targets: ['health-monitor.checking'] }));
    expect(toMermaid(byId.get('health-monitor')!)).toContain('health_monitor__waiting --> health_monitor__checking : after interval');
    expect(toMermaid(byId.get('issue-lifecycle')!)).toContain('issue_lifecycle__advancing --> issue_lifecycle__done : always [isLastStage]');
  });

  it('nests compound states and marks initial ones', () => {
    const pane = toGraph(byId.get('agent-pane')!);
    const alive = pane.children[0]!.children.find((node) => node.id === 'agent-pane.alive')!;
    expect(alive.initial).toBe(true);
    const ready = alive.children.find((node) => node.id === 'agent-pane.alive.ready')!;
    expect(ready.children.map((node) => node.labels[0]!.text)).toEqual(expect.arrayContaining(['idle', 'busy']));
    expect(toMermaid(byId.get('agent-pane')!)).toMatch(/state "ready" as agent_pane__alive__ready \{\n\s+\[\*\] --> agent_pane__alive__ready__deciding/);
  });
});
