/**
 * The cost an agent says it has spent so far, while it runs: the file `$MIYABI_COST_FILE`
 * (docs/AGENT_PROTOCOL.md, "Cost while running"), read at each heartbeat. The runner shows it in
 * its heartbeats, counts it when the run ends without a result file's `cost` (an agent stopped
 * mid-run spent it all the same), and stops the agent once it is above the task's
 * `budget.task.usd`: a cap that only a finished run could break would stop nothing.
 */
import { readFile } from 'node:fs/promises';
import { parseRunningCost, type AgentCost } from '../agents/task.ts';

export interface RunningCostOptions {
  file: string;
  /** `budget.task.usd`; absent: no cap, the cost is only read. */
  capUsd: number | undefined;
  intervalMs: number;
  /** Each cost read that differs from the last. */
  onCost: (cost: AgentCost) => void;
  /** Once, the first time the cost is above the cap. */
  onOverCap: (cost: AgentCost) => void;
  /** Fields of the file that were ignored (not a non-negative number), once per distinct text. */
  onWarnings: (warnings: string[]) => void;
}

export interface RunningCost {
  /** The last cost read, if any. */
  readonly last: AgentCost | undefined;
  /** Reads the file one last time (what the agent wrote just before it ended) and stops looking. */
  stop(): Promise<AgentCost | undefined>;
}

export function watchRunningCost(options: RunningCostOptions): RunningCost {
  let last: AgentCost | undefined;
  let lastText: string | undefined;
  let overCap = false;
  let reading: Promise<void> = Promise.resolve();
  const read = async (final = false) => {
    const text = await readFile(options.file, 'utf8').catch(() => undefined);
    if (text === undefined || text === lastText) return;
    const parsed = parseRunningCost(text);
    if (parsed === undefined) return;
    lastText = text;
    if (parsed.warnings.length > 0) options.onWarnings(parsed.warnings);
    last = parsed.cost;
    options.onCost(parsed.cost);
    if (!final && !overCap && options.capUsd !== undefined && parsed.cost.usd !== undefined && parsed.cost.usd > options.capUsd) {
      overCap = true;
      options.onOverCap(parsed.cost);
    }
  };
  // One read at a time: a slow disk never stacks them up.
  const timer = setInterval(() => {
    reading = reading.then(() => read());
  }, options.intervalMs);
  return {
    get last() {
      return last;
    },
    async stop() {
      clearInterval(timer);
      // The run is over: a cost above the cap now fails the task by the result's rule, nothing to stop.
      reading = reading.then(() => read(true));
      await reading;
      return last;
    },
  };
}
