/**
 * `agents.<role>.tasksAhead`: that many tasks of the role dispatched beyond its agents, waiting on
 * the bus for the first agent to finish (issue #18: agents kept busy); none by default, so the
 * priority queue orders every task that has not met an agent.
 */
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.ts';
import type { OrchestraConfig } from '../../src/config/schema.ts';
import type { QueuedTask } from '../../src/machines/scheduler.ts';
import { workflowParts } from '../support/workflow-parts.ts';

function config(codegen: string): OrchestraConfig {
  const parsed = parseConfigText(['agents:', `  codegen: { command: [x], ${codegen} }`, '  review: { command: [x], max: 1 }'].join('\n'), 'test.yaml');
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.config;
}

const task = (issue: number, role = 'codegen'): QueuedTask => ({ id: `issue-${issue}.${role}`, issue, role, priority: 2, enqueuedAt: issue, deadline: Infinity });

/** What the scheduler hands out at once from a backlog of six codegen and two review tasks. */
function dispatchedAtOnce(codegen: string): string[] {
  const { scheduler } = workflowParts(config(codegen));
  for (let issue = 1; issue <= 6; issue++) scheduler.enqueue(task(issue));
  for (const issue of [7, 8]) scheduler.enqueue(task(issue, 'review'));
  return scheduler.take(0).map((taken) => taken.id);
}

describe('tasks dispatched ahead of the agents', () => {
  it('dispatches tasksAhead tasks of a role beyond its max, in queue order; the other roles as before', () => {
    expect(dispatchedAtOnce('max: 2, tasksAhead: 3')).toEqual(['issue-1.codegen', 'issue-2.codegen', 'issue-3.codegen', 'issue-4.codegen', 'issue-5.codegen', 'issue-7.review']);
  });

  it('dispatches only for free agents by default', () => {
    expect(dispatchedAtOnce('max: 2')).toEqual(['issue-1.codegen', 'issue-2.codegen', 'issue-7.review']);
    expect(config('max: 2').agents.codegen!.tasksAhead).toBe(0);
  });
});
