/**
 * `dag check`: the backlog's dependency graph validated: cycles named (exit 2), issues that can
 * never run (a missing dependency) listed (exit 1). `dag show --format mermaid|dot|json`: the
 * graph with each issue's state (the running orchestra's state when one runs, else ready,
 * waiting or blocked as the graph says).
 */
import { formatCycle, renderGraph } from '../../machines/dag.ts';
import { loadDependencyFile } from '../../workflow/dependency-file.ts';
import { planBacklog, staticState, type BacklogPlan } from '../../workflow/plan.ts';
import type { LoadedConfig } from '../../config/load.ts';
import { Kvm } from '@nats-io/kv';
import { DEFAULT_BUS_TOPOLOGY } from '../../infra/bus/topology.ts';
import { readRunFile } from '../../orchestra/run-file.ts';
import type { IssueRecord } from '../../workflow/record.ts';
import { WorkflowStore } from '../../workflow/store.ts';
import { connectCli, loadConfigOrExit } from '../connect.ts';
import { withIssueSource } from '../issue-source.ts';
import { CliExit, ExitCode, printProblems } from '../output.ts';

async function plan(loaded: LoadedConfig): Promise<BacklogPlan> {
  const dependencyFile = await loadDependencyFile(loaded.config);
  if (!dependencyFile.ok) {
    printProblems(loaded.path, dependencyFile.problems);
    throw new CliExit(ExitCode.invalid, '');
  }
  for (const message of dependencyFile.ignored) process.stderr.write(`warning: ${message}\n`);
  return withIssueSource(loaded, (source) => planBacklog(loaded.config, source, dependencyFile.dependencies));
}

export async function dagCheck(flags: { config?: string }): Promise<number> {
  const loaded = await loadConfigOrExit(flags.config);
  const { graph, issues } = await plan(loaded);
  const cycles = graph.cycles();
  const blocked = [...graph.blocked()].filter(([id]) => issues.has(id));
  for (const cycle of cycles) process.stdout.write(`cycle: ${formatCycle(cycle)}\n`);
  for (const [id, reason] of blocked) process.stdout.write(`#${id} blocked: ${reason}\n`);
  const order = graph.topologicalOrder().filter((id) => issues.has(id));
  process.stdout.write(`${issues.size} issue(s) in scope; ${order.length} in dependency order: ${order.map((id) => `#${id}`).join(' ')}\n`);
  if (cycles.length > 0) return ExitCode.invalid;
  return blocked.length > 0 ? ExitCode.failure : ExitCode.ok;
}

export async function dagShow(flags: { config?: string; format?: string }): Promise<number> {
  const format = flags.format ?? 'mermaid';
  if (format !== 'mermaid' && format !== 'dot' && format !== 'json') {
    throw new CliExit(ExitCode.invalid, `--format must be mermaid, dot or json (got ${format})`);
  }
  const loaded = await loadConfigOrExit(flags.config);
  const backlog = await plan(loaded);
  const live = await orchestraStates(loaded);
  const label = (id: number) => {
    const title = backlog.issues.get(id)?.title;
    const state = live?.get(id) ?? staticState(backlog, id);
    return title === undefined ? state : `${title} (${state})`;
  };
  process.stdout.write(renderGraph(backlog.graph, format, label));
  if (format !== 'json') process.stdout.write('\n');
  return ExitCode.ok;
}

/** The running orchestra's lifecycle states, from its KV bucket; undefined when none runs. */
async function orchestraStates(loaded: LoadedConfig): Promise<Map<number, string> | undefined> {
  const records = await orchestraRecords(loaded);
  return records && new Map(records.map((record) => [record.number, String((record.snapshot as { value?: unknown }).value ?? 'unknown')]));
}

/** The running orchestra's issue records, from its KV bucket; undefined when none runs. */
export async function orchestraRecords(loaded: LoadedConfig): Promise<IssueRecord[] | undefined> {
  const run = await readRunFile(loaded.config.dataDir);
  if (run.kind !== 'live') return undefined;
  const nc = await connectCli(loaded, [run.runFile.natsUrl]);
  try {
    const kv = await new Kvm(nc).open(DEFAULT_BUS_TOPOLOGY.kvBucket);
    return await new WorkflowStore(kv).records();
  } finally {
    await nc.close();
  }
}
