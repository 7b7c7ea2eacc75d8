/** The `dag` and `scheduler` actors a workflow engine drives, unsupervised, for a test or a bench. */
import { standaloneGraph } from '../../src/actors/dag.ts';
import { schedulerPolicyOf, standaloneQueue } from '../../src/actors/scheduler.ts';
import type { OrchestraConfig } from '../../src/config/schema.ts';

export function workflowParts(config: OrchestraConfig) {
  return { dag: standaloneGraph(), scheduler: standaloneQueue(schedulerPolicyOf(config)) };
}
