/**
 * A data directory's logs as months of work leave them, made up for the `logs` benchmark: the
 * orchestra's log (pino JSON lines, rotated every 64 MiB), the runners' logs, and each agent's
 * output per day with its task markers (rotated every 8 MiB, as PaneLog rotates), for thousands of
 * issues. Seeded, so every run searches the same logs. Written in large appends, not line by line.
 */
import { closeSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { seededRandom } from './dag.ts';

const AGENTS = ['codegen-1', 'codegen-2', 'codegen-3', 'codegen-4', 'review-1', 'review-2', 'pr-1', 'pr-2'];
const ORCHESTRA_ROTATE = 64 * 2 ** 20;
const AGENT_ROTATE = 8 * 2 ** 20;

/** An appending file that rotates like the real writers: `name` → `name.1` → `name.2` … */
class Sink {
  private buffered: string[] = [];
  private bufferedBytes = 0;
  private size = 0;
  private rotations = 0;
  constructor(
    private readonly file: string,
    private readonly rotateAt: number,
  ) {}
  write(line: string): void {
    this.buffered.push(line);
    this.bufferedBytes += line.length + 1;
    if (this.bufferedBytes > 1 << 20) this.flush();
  }
  flush(): void {
    if (this.buffered.length === 0) return;
    const fd = openSync(this.file, 'a');
    writeSync(fd, `${this.buffered.join('\n')}\n`);
    closeSync(fd);
    this.size += this.bufferedBytes;
    this.buffered = [];
    this.bufferedBytes = 0;
    if (this.size >= this.rotateAt) {
      this.rotations += 1;
      for (let n = this.rotations; n >= 2; n -= 1) renameSync(`${this.file}.${n - 1}`, `${this.file}.${n}`);
      renameSync(this.file, `${this.file}.1`);
      this.size = 0;
    }
  }
}

export interface Corpus {
  bytes: number;
  lines: number;
  issues: number;
  /** Epoch ms of the last line. */
  end: number;
}

/** Writes about `targetBytes` of logs under `logsDir`; the work spans `days` days up to `end`. */
export function writeCorpus(logsDir: string, targetBytes: number, end = Date.parse('2026-06-30T00:00:00Z'), days = 30): Corpus {
  const random = seededRandom(14);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const hex = (length: number) => Array.from({ length }, () => Math.floor(random() * 16).toString(16)).join('');
  mkdirSync(join(logsDir, 'runners'), { recursive: true });
  const orchestra = new Sink(join(logsDir, 'orchestra.log'), ORCHESTRA_ROTATE);
  const runners = new Map(AGENTS.map((agent) => [agent, new Sink(join(logsDir, 'runners', `${agent}.log`), ORCHESTRA_ROTATE)]));
  const agentDays = new Map<string, Sink>();
  const agentSink = (agent: string, day: string) => {
    const key = `${agent}/${day}`;
    let sink = agentDays.get(key);
    if (sink === undefined) {
      mkdirSync(join(logsDir, 'agents', agent), { recursive: true, mode: 0o700 });
      sink = new Sink(join(logsDir, 'agents', agent, `${day}.log`), AGENT_ROTATE);
      agentDays.set(key, sink);
    }
    return sink;
  };
  // About 3.3 kB of logs a task, six tasks an issue; time runs with the bytes written.
  const issues = Math.max(10, Math.round(targetBytes / 20_000));
  const start = end - days * 86_400_000;
  let bytes = 0;
  let lines = 0;
  const emit = (sink: Sink, line: string) => {
    sink.write(line);
    bytes += Buffer.byteLength(line) + 1;
    lines += 1;
  };
  const pino = (time: number, level: string, fields: Record<string, unknown>, msg: string) =>
    JSON.stringify({ level, time: new Date(time).toISOString(), pid: 4242, hostname: 'miyabi-host', ...fields, msg });
  for (let task = 0; bytes < targetBytes; task += 1) {
    let time = start + Math.floor((bytes / targetBytes) * days * 86_400_000);
    const issue = 1 + Math.floor(random() * issues);
    const stage = pick(['codegen', 'codegen', 'review', 'pr']);
    const agent = pick(AGENTS.filter((id) => id.startsWith(stage)));
    const attempt = 1 + Math.floor(random() * 2);
    const taskId = `issue-${issue}.g1.${stage}.r0.a${attempt}`;
    const ids = { actorId: 'lifecycles', issue };
    emit(orchestra, pino(time, 'info', { ...ids, stage, role: stage, attempt, taskId }, 'stage dispatched'));
    const day = new Date(time).toISOString().slice(0, 10);
    const out = agentSink(agent, day);
    emit(out, `=== miyabi task start ${JSON.stringify({ taskId, issue, role: stage, attempt, at: new Date(time).toISOString() })} ===`);
    const outputLines = 20 + Math.floor(random() * 40);
    for (let n = 0; n < outputLines; n += 1) {
      const file = `src/${pick(['parser', 'server', 'config', 'auth', 'cache', 'router', 'db'])}/${pick(['index', 'client', 'schema', 'util', 'types'])}.ts`;
      emit(
        out,
        pick([
          `Reading ${file} to understand how issue #${issue} fits in`,
          `Editing ${file}: ${pick(['add', 'rename', 'remove', 'extract'])} ${pick(['function', 'interface', 'test', 'constant'])} ${hex(6)}`,
          `$ npx vitest run ${file.replace('src', 'test').replace('.ts', '.test.ts')}`,
          `  ✓ ${pick(['parses', 'rejects', 'keeps', 'returns'])} the ${pick(['empty', 'nested', 'quoted', 'large'])} ${pick(['input', 'header', 'token', 'row'])} (${Math.floor(random() * 90)} ms)`,
          `Tests: ${Math.floor(random() * 200)} passed, ${random() < 0.1 ? 1 : 0} failed`,
          `error TS2345: Argument of type 'string' is not assignable to parameter of type 'number' (${file}:${Math.floor(random() * 400)})`,
          `[main ${hex(7)}] ${pick(['feat', 'fix', 'refactor', 'test'])}: ${pick(['handle', 'support', 'validate'])} ${pick(['timeouts', 'retries', 'empty bodies', 'unicode names'])} (#${issue})`,
          `Thinking: the ${pick(['cache', 'router', 'schema'])} should ${pick(['not retry', 'expire entries', 'reject unknown keys'])} when ${pick(['the connection drops', 'a field is missing', 'the token expired'])}`,
        ]),
      );
    }
    time += 20_000 + Math.floor(random() * 600_000);
    const status = random() < 0.08 ? 'failure' : 'success';
    emit(out, `=== miyabi task end ${JSON.stringify({ taskId, issue, status, durationMs: 60_000, at: new Date(time).toISOString() })} ===`);
    emit(runners.get(agent)!, pino(time, 'info', { actorId: agent, role: stage, taskId, issue, attempt, status }, 'task finished'));
    emit(orchestra, pino(time + 5, 'info', { ...ids, stage, taskId, outcome: status }, 'stage finished'));
    if (stage === 'pr') emit(orchestra, pino(time + 9, 'info', { actorId: 'issue-source', issue, pull: issue + 10_000, head: `miyabi/issue-${issue}` }, 'pull request created'));
    if (random() < 0.05) emit(orchestra, pino(time + 12, 'warn', { ...ids, err: `git merge failed: conflict in src/${pick(['parser', 'cache'])}/index.ts` }, 'merge stage could not merge; back to codegen'));
    else if (stage === 'pr') emit(orchestra, pino(time + 12, 'info', { ...ids, sha: hex(40), method: 'merge' }, 'merge recorded'));
    if (task % 40 === 0) emit(orchestra, pino(time + 20, 'info', { actorId: 'health-monitor', findings: 0, agents: 8 }, 'health report'));
  }
  for (const sink of [orchestra, ...runners.values(), ...agentDays.values()]) sink.flush();
  return { bytes, lines, issues, end };
}
