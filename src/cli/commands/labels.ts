/**
 * `labels sync`: creates on the tracker the label families the orchestra uses (trigger, state,
 * priority, routes) when they are missing; existing labels are left as they are.
 */
import type { OrchestraConfig } from '../../config/schema.ts';
import type { LabelSpec } from '../../issues/source.ts';
import { loadConfigOrExit } from '../connect.ts';
import { withIssueSource } from '../issue-source.ts';
import { ExitCode } from '../output.ts';

export function orchestraLabels(config: OrchestraConfig): LabelSpec[] {
  const { workflow } = config;
  const labels: LabelSpec[] = [
    { name: workflow.triggerLabel, color: '6f42c1', description: 'Miyabi Orchestra: agents work on this issue' },
  ];
  const states: Record<keyof typeof workflow.stateLabels, string> = {
    pending: 'c5def5',
    implementing: '0e8a16',
    reviewing: '1d76db',
    deploying: '5319e7',
    done: '0e8a16',
    failed: 'b60205',
    blocked: 'd93f0b',
    merging: '1d76db',
    merge_blocked: 'd93f0b',
    waiting_for_human: 'fbca04',
    budget_hold: 'e99695',
  };
  for (const [state, name] of Object.entries(workflow.stateLabels)) {
    labels.push({ name, color: states[state as keyof typeof states], description: `Miyabi Orchestra state: ${state}` });
  }
  for (const [name, priority] of Object.entries(workflow.priority.labels)) {
    labels.push({ name, color: ['b60205', 'd93f0b', 'fbca04', 'c2e0c6'][Math.min(priority, 3)]!, description: `Priority ${priority} (0 is the most urgent)` });
  }
  for (const route of workflow.routes) labels.push({ name: route.label, color: 'bfd4f2', description: `Route: ${route.stages.join(' → ')}` });
  for (const extra of workflow.extraStages) labels.push({ name: extra.label, color: 'bfd4f2', description: `Adds the ${extra.stage} stage` });
  for (const role of Object.keys(config.agents)) {
    labels.push({ name: `${workflow.forceRolePrefix}${role}`, color: 'ededed', description: `The ${role} role runs the first stage` });
  }
  const seen = new Set<string>();
  return labels.filter((label) => !seen.has(label.name) && seen.add(label.name));
}

export async function labelsSync(flags: { config?: string }): Promise<number> {
  const loaded = await loadConfigOrExit(flags.config);
  return withIssueSource(loaded, async (source) => {
    const labels = orchestraLabels(loaded.config);
    const { created } = await source.syncLabels(labels);
    for (const name of created) process.stdout.write(`created ${name}\n`);
    process.stdout.write(`${labels.length} label(s) checked, ${created.length} created\n`);
    return ExitCode.ok;
  });
}
