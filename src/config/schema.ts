/**
 * The one config file of the orchestra, as a zod schema.
 *
 * Contract:
 * - every object is strict: an unknown key is an error naming the key, so a typo never falls
 *   back silently to a default;
 * - every field has a default, so an empty file runs the embedded default (embedded NATS, the
 *   local issue source, the example agents);
 * - secrets are never in the file: it names environment variables (`*Env` fields), read by
 *   `resolveSecrets` (./secrets.ts);
 * - relative paths resolve against the directory of the config file (`resolveConfigPaths`);
 *   the embedded default, read without a file of the user's, resolves against the cwd.
 *
 * A section lives in its own file under ./sections so later features extend one section
 * without touching the others. `config/miyabi.schema.json` and `docs/CONFIGURATION.md` are
 * generated from this schema (`writeConfigSchema`); `.describe()` texts become their prose.
 */
import { z } from 'zod';
import { pathField } from './fields.ts';
import { agentsSection } from './sections/agents.ts';
import { budgetSection } from './sections/budget.ts';
import { consoleSection } from './sections/console.ts';
import { clusterSection } from './sections/cluster.ts';
import { busSection, httpSection, logSection, natsSection } from './sections/infra.ts';
import { issuesSection } from './sections/issues.ts';
import { panesSection, workspaceSection } from './sections/panes.ts';
import { healthSection, notifySection, retentionSection, supervisorSection } from './sections/runtime.ts';
import { reportsSection } from './sections/reports.ts';
import { workflowSection } from './sections/workflow.ts';

export const configSchema = z
  .object({
    dataDir: pathField('Directory of the run file, the logs and the embedded NATS store').default('.miyabi'),
    nats: natsSection,
    bus: busSection,
    cluster: clusterSection.optional(),
    http: httpSection,
    console: consoleSection,
    log: logSection,
    supervisor: supervisorSection,
    issues: issuesSection,
    workflow: workflowSection,
    agents: agentsSection,
    panes: panesSection,
    workspace: workspaceSection,
    health: healthSection,
    retention: retentionSection,
    notify: notifySection,
    budget: budgetSection,
    reports: reportsSection,
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.cluster && config.cluster.replicas > 1 && config.nats.urls.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['cluster', 'replicas'],
        message: `${config.cluster.replicas} replicas need a NATS cluster in nats.urls: the embedded nats-server is one server and holds one replica`,
      });
    }
    for (const role of Object.keys(config.budget.daily.roles)) {
      if (!(role in config.agents)) ctx.addIssue({ code: 'custom', path: ['budget', 'daily', 'roles', role], message: `no agent role ${role} in agents` });
    }
    if (config.notify.githubIssues.enabled && config.issues.source !== 'github') {
      ctx.addIssue({ code: 'custom', path: ['notify', 'githubIssues', 'enabled'], message: 'needs issues.source: github (the issues are opened on that repository)' });
    }
  })
  .meta({
    title: 'Miyabi Orchestra configuration',
    description: 'The one YAML config file of miyabi-orchestra. Every field is optional; an empty file runs the embedded default.',
  });

/** The config as the orchestra uses it: every default filled in. */
export type OrchestraConfig = z.output<typeof configSchema>;
/** The config as written in a file: everything optional. */
export type OrchestraConfigInput = z.input<typeof configSchema>;
export type AgentConfig = OrchestraConfig['agents'][string];
