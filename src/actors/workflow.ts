/**
 * The `workflow` supervisor: `one_for_all` over the three actors that decide what happens to the
 * issues, started in this order —
 *
 *   dag         the dependency graph (src/actors/dag.ts)
 *   scheduler   the ready queue (src/actors/scheduler.ts)
 *   lifecycles  the coordinator: every issue's lifecycle, the KV commit, the bus (src/actors/lifecycles.ts)
 *
 * A decision (this issue is ready, that one goes next) and its durable record must be one step,
 * so the coordinator drives the other two synchronously and owns the write to KV; none of the
 * three can go on without the others' state, so a crash of any one restarts all three, and the
 * coordinator rebuilds the graph and the queue from the KV bucket.
 */
import type { OrchestraResources } from './resources.ts';
import { supervisorChild, type ChildSpec, type SupervisorSpec } from '../supervisor/index.ts';
import { dagLogic, type DagActor } from './dag.ts';
import { lifecyclesChild, type WorkflowSiblings } from './lifecycles.ts';
import { schedulerLogic, schedulerPolicyOf, type SchedulerActor } from './scheduler.ts';

export { workflowBacklog } from './lifecycles.ts';

export function workflowChild(
  resources: OrchestraResources,
  settings: Pick<SupervisorSpec, 'restartIntensity' | 'restartPeriodMs' | 'backoff'>,
): ChildSpec {
  // Each incarnation of `dag` and `scheduler` announces itself here as it starts; `lifecycles`,
  // started after them, reads the current ones.
  const siblings: WorkflowSiblings = {};
  return supervisorChild({
    ...settings,
    id: 'workflow',
    strategy: 'one_for_all',
    children: [
      { id: 'dag', logic: dagLogic.provide({ actions: { announce: ({ self }) => void (siblings.dag = self as DagActor) } }), restart: 'permanent' },
      {
        id: 'scheduler',
        logic: schedulerLogic.provide({ actions: { announce: ({ self }) => void (siblings.scheduler = self as SchedulerActor) } }),
        input: schedulerPolicyOf(resources.config),
        restart: 'permanent',
      },
      lifecyclesChild(resources, siblings),
    ],
  });
}
