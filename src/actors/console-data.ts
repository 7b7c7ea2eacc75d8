/**
 * The console's views of work and workers (docs/CONSOLE.md):
 *
 *   GET /api/queues                      per role: waiting tasks (in the order they would start),
 *                                        tasks in flight, and the role's agents, busy or idle
 *   GET /api/agents/<id>/output?lines=N  the last N lines of the agent's output (its pane log)…
 *   GET /api/agents/<id>/output?file=F&offset=O  …then what was appended since, for a live tail
 *
 * The output is read from `<dataDir>/logs/agents/<id>/<day>.log` (src/infra/panes/log.ts) with
 * asynchronous reads of at most OUTPUT_MAX_BYTES, whole lines only: the orchestra's event loop
 * never waits for a large file, and a browser never gets half a line.
 */
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { OrchestraResources } from './resources.ts';

type Answer = { status: number; body: unknown };

const OUTPUT_MAX_BYTES = 256 * 1024;
const OUTPUT_MAX_LINES = 2_000;

interface AgentNow {
  id: string;
  state: string;
  busy: boolean;
  issue?: number;
  taskId?: string;
}

/** Every agent of every pool, with what its actor says it runs. */
function agentsByRole(resources: OrchestraResources): Map<string, AgentNow[]> {
  const byRole = new Map<string, AgentNow[]>();
  const agents = resources.root()?.childSupervisor('agents');
  for (const poolId of agents?.childIds() ?? []) {
    const pool = agents!.childSupervisor(poolId);
    const role = poolId.replace(/^pool\./, '');
    const list: AgentNow[] = [];
    for (const node of pool?.inspect().children ?? []) {
      const snapshot = pool!.childActor(node.id)?.getSnapshot() as { context?: { issue?: unknown; taskId?: unknown } } | undefined;
      const issue = snapshot?.context?.issue;
      const taskId = snapshot?.context?.taskId;
      list.push({
        id: node.id,
        state: node.state,
        busy: /(^|\.)busy$/.test(node.state),
        ...(typeof issue === 'number' ? { issue } : {}),
        ...(typeof taskId === 'string' ? { taskId } : {}),
      });
    }
    byRole.set(role, list);
  }
  return byRole;
}

export function queues(resources: OrchestraResources): Answer {
  const workflow = resources.workflow;
  if (!workflow) return { status: 503, body: { error: 'workflow_not_running', message: 'the workflow is not running (starting, or restarting): try again' } };
  const now = Date.now();
  const agents = agentsByRole(resources);
  const waiting = workflow.queue.queue.queued(now);
  const running = [...workflow.records.keys()].flatMap((number) => {
    const { value, context } = workflow.snapshot(number);
    if (value !== 'running') return [];
    const stage = context.route[context.stageIndex];
    const agent = [...agents.values()].flat().find((candidate) => candidate.issue === number);
    return [{ issue: number, role: stage?.role ?? '?', stage: stage?.stage, taskId: context.taskId, since: context.dispatchedAt, ...(agent ? { agent: agent.id } : {}) }];
  });
  const roles = [...new Set([...Object.keys(resources.config.agents), ...agents.keys()])].sort();
  return {
    status: 200,
    body: {
      roles: roles.map((role) => ({
        role,
        capacity: resources.config.agents[role]?.max ?? 0,
        waiting: waiting.filter((task) => task.role === role).map(({ id, issue, priority, enqueuedAt }) => ({ id, issue, priority, enqueuedAt })),
        running: running.filter((task) => task.role === role),
        agents: agents.get(role) ?? [],
      })),
    },
  };
}

/** The agent's newest output file (day files sort by name), or undefined. */
async function newestOutput(dir: string): Promise<string | undefined> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((name) => /^\d{4}-\d{2}-\d{2}\.log$/.test(name)).sort().at(-1);
}

export async function agentOutput(resources: OrchestraResources, agent: string, url: URL): Promise<Answer> {
  if (!/^[A-Za-z0-9_.-]+$/.test(agent) || agent === '.' || agent === '..') {
    return { status: 400, body: { error: 'invalid_agent', message: `expected an agent id (letters, digits, . _ -), got ${JSON.stringify(agent)}` } };
  }
  const dir = join(resources.config.dataDir, 'logs', 'agents', agent);
  const file = await newestOutput(dir);
  if (file === undefined) return { status: 200, body: { agent, file: null, offset: 0, lines: [] } };
  const handle = await open(join(dir, file), 'r');
  try {
    const size = (await handle.stat()).size;
    const askedFile = url.searchParams.get('file');
    const askedOffset = Number(url.searchParams.get('offset') ?? NaN);
    // Following the same file, which has not shrunk (rotated): what came since. Otherwise its tail.
    const following = askedFile === file && Number.isSafeInteger(askedOffset) && askedOffset >= 0 && askedOffset <= size;
    const wanted = Math.min(OUTPUT_MAX_LINES, Math.max(1, Number(url.searchParams.get('lines') ?? 200) || 200));
    const start = following ? askedOffset : Math.max(0, size - OUTPUT_MAX_BYTES);
    const length = Math.min(OUTPUT_MAX_BYTES, size - start);
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, start);
    const text = buffer.subarray(0, bytesRead);
    // Whole lines only: a partial last line comes with the next call.
    const end = text.lastIndexOf(0x0a) + 1;
    let lines = text.subarray(0, end).toString('utf8').split('\n').slice(0, -1);
    // A tail read from the middle of the file starts mid-line: that first piece is dropped.
    if (!following && start > 0) lines = lines.slice(1);
    if (!following) lines = lines.slice(-wanted);
    return { status: 200, body: { agent, file, offset: start + end, lines: lines.map((line) => resources.redact(line)) } };
  } finally {
    await handle.close();
  }
}
