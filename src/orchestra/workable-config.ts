/**
 * What a valid config can still get wrong about the host and about itself: a route whose stage
 * no role runs, a local issue directory that is not there, an agent program that is not
 * installed. The schema cannot see these (they need the other sections, or the file system).
 *
 * `config check` refuses a config with any of them. `up` logs them and serves what it can: a
 * role's program may be installed after the start (its runner backs off until then), the issue
 * directory may be mounted later, an orchestra may run for direct dispatch only.
 */
import { statSync } from 'node:fs';
import { checkAgentProgram } from '../agents/command-check.ts';
import type { ConfigProblem } from '../config/problems.ts';
import type { OrchestraConfig } from '../config/schema.ts';
import { ORCHESTRA_STAGES } from '../config/sections/workflow.ts';
import { describeError } from '../errors.ts';

/** Every stage some route can reach (a default route's, a labelled route's, an extra stage), with where the config names it. */
function routeStages(workflow: OrchestraConfig['workflow']): Array<{ stage: string; path: string }> {
  return [
    ...workflow.defaultRoute.map((stage, index) => ({ stage, path: `workflow.defaultRoute.${index}` })),
    ...workflow.routes.flatMap((route, r) => route.stages.map((stage, index) => ({ stage, path: `workflow.routes.${r}.stages.${index}` }))),
    ...workflow.extraStages.map((extra, index) => ({ stage: extra.stage, path: `workflow.extraStages.${index}.stage` })),
  ];
}

/** The stages agents run (the orchestra's own, `merge`, left out), each once: `miyabi_stage_runs_total` has them from 0. */
export function agentStages(config: OrchestraConfig): string[] {
  return [...new Set(routeStages(config.workflow).map(({ stage }) => stage))].filter((stage) => !ORCHESTRA_STAGES.has(stage));
}

/** Every stage some route can reach whose role has no agent pool. */
export function unservedStages(config: OrchestraConfig): ConfigProblem[] {
  const { workflow, agents } = config;
  const roleOf = (stage: string) => workflow.stageRoles[stage] ?? stage;
  const problems: ConfigProblem[] = [];
  for (const { stage, path } of routeStages(workflow)) {
    if (ORCHESTRA_STAGES.has(stage) || roleOf(stage) in agents) continue;
    const via = workflow.stageRoles[stage] === undefined ? '' : ` (workflow.stageRoles.${stage})`;
    problems.push({
      path,
      message: `stage "${stage}" is run by role "${roleOf(stage)}"${via}, which is not in agents (${Object.keys(agents).join(', ')}): its issues would wait for ever`,
    });
  }
  return problems;
}

/** The local issue directory, when it is the source: it must be a directory. */
export function missingIssueDirectory(config: OrchestraConfig): ConfigProblem[] {
  if (config.issues.source !== 'local') return [];
  const { dir } = config.issues.local;
  try {
    if (statSync(dir).isDirectory()) return [];
    return [{ path: 'issues.local.dir', message: `${dir} is not a directory` }];
  } catch (error) {
    return [{ path: 'issues.local.dir', message: `${dir}: ${describeError(error)}` }];
  }
}

/** Each role whose agent program is not found (on PATH, or at its absolute path). */
export function missingAgentPrograms(config: OrchestraConfig, env: NodeJS.ProcessEnv = process.env): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const [role, agent] of Object.entries(config.agents)) {
    try {
      checkAgentProgram(agent.command, env);
    } catch (error) {
      problems.push({ path: `agents.${role}.command`, message: describeError(error) });
    }
  }
  return problems;
}
