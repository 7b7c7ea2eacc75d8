/**
 * Every XState machine of src/machines, by id: what the console draws and `miyabi-orchestra
 * machines` prints. A new machine gets a line here (test/machines/diagram.test.ts checks that
 * each one here converts whole).
 */
import type { AnyStateMachine } from 'xstate';
import { agentPaneMachine } from './agent-pane.ts';
import { describeMachine, type MachineJson } from './definition.ts';
import { healthMonitorMachine } from './health-monitor.ts';
import { issueLifecycleMachine } from './issue-lifecycle.ts';
import { issueWatcherMachine } from './issue-watcher.ts';

export const MACHINES: readonly AnyStateMachine[] = [agentPaneMachine, healthMonitorMachine, issueLifecycleMachine, issueWatcherMachine];

/** Each machine's definition as JSON, in catalog order. */
export function machineDefinitions(): MachineJson[] {
  return MACHINES.map(describeMachine);
}
