/**
 * The JSON the console's APIs answer, as the page reads it (docs/CONSOLE.md, HTTP APIs). The
 * browser code imports nothing of the server's (it is bundled alone, src/console →
 * dist/console.js), so the shapes are written out here; test/console/console-types.test.ts
 * checks at compile time that the server's types still fit them.
 */
export interface TreeNode {
  id: string;
  type: 'worker' | 'supervisor';
  strategy?: string;
  status: string;
  state: string;
  restarts: number;
  uptimeMs: number;
  /** The XState machine's id, for a machine actor. */
  machine?: string;
  children?: TreeNode[];
}

export interface StatusReply {
  pid: number;
  startedAt: string;
  uptimeMs: number;
  tree: TreeNode;
}

export interface InspectionRecord {
  kind: 'actor' | 'snapshot' | 'issue';
  seq: number;
  time: number;
  actor: string;
  machine?: string;
  event: string;
  state: string;
  value?: unknown;
  status?: string;
  from?: string;
  issue?: { number: number; stage?: string; role?: string; attempt: number; round: number; agent?: string };
  context?: unknown;
}

export interface GraphNode {
  id: string;
  labels: Array<{ text: string }>;
  type: string;
  initial: boolean;
  children: GraphNode[];
}

export interface GraphEdge {
  id: string;
  sources: [string];
  targets: [string];
  labels: Array<{ text: string }>;
  kind: 'event' | 'after' | 'always';
}

export interface MachineGraph {
  id: string;
  children: GraphNode[];
  edges: GraphEdge[];
}

export interface MachinesReply {
  machines: Array<{ id: string }>;
  graphs: Record<string, MachineGraph>;
}

export interface HistoryReply {
  issue: number;
  total: number;
  transitions: InspectionRecord[];
  live: { state: string; context: unknown } | null;
}

export interface DagReply {
  nodes: Array<{ id: number; state: string; external: boolean; ready: boolean; dependsOn: number[]; label: string; blocked?: unknown }>;
  cycles: number[][];
}

export interface QueuedTask {
  id: string;
  issue: number;
  role: string;
  priority: number;
  enqueuedAt: number;
}

export interface QueuesReply {
  roles: Array<{ role: string; capacity: number; waiting: QueuedTask[]; running: Array<{ issue: number; taskId?: string; stage?: string; agent?: string; since?: number }>; agents: Array<{ id: string; state: string; busy: boolean }> }>;
}

export interface OutputReply {
  agent: string;
  file: string | null;
  offset: number;
  lines: string[];
}

export interface LogHit {
  file: string;
  line: number;
  time: string;
  issue?: number;
  taskId?: string;
  agent?: string;
  level?: string;
  snippet: string;
  highlights: Array<[number, number]>;
}

export interface LogsReply {
  query: string;
  hits: LogHit[];
  ranked: number;
  windowFull: boolean;
}
