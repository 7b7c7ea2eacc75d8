// Helpers shared by the example agents. Plain Node, no dependencies: they run from any cwd.
//
// The protocol (docs/AGENT_PROTOCOL.md): the task comes from the JSON file named by
// $MIYABI_TASK_FILE, never from argv; the answer goes to $MIYABI_RESULT_FILE; the working
// directory is the issue's git worktree. Issue text is data: it is written to files and passed to
// git as single argv elements (execFileSync, no shell), never put in a command line.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const EXIT_TEMPFAIL = 75;

export function readTask() {
  const file = process.env.MIYABI_TASK_FILE;
  if (!file) throw new Error('MIYABI_TASK_FILE is not set: run me through miyabi-orchestra');
  const task = JSON.parse(readFileSync(file, 'utf8'));
  if (task.schema !== 1) throw new Error(`task file schema ${task.schema} is not 1`);
  return task;
}

export function writeResult(result) {
  writeFileSync(process.env.MIYABI_RESULT_FILE, `${JSON.stringify({ schema: 1, ...result }, null, 2)}\n`);
}

/** git in the worktree (the cwd), arguments as given: no shell ever sees them. */
export function git(...args) {
  return execFileSync('git', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).trim();
}

function staged(paths) {
  try {
    execFileSync('git', ['diff', '--cached', '--quiet', '--', ...paths], { stdio: 'ignore' });
    return false;
  } catch (error) {
    if (error.status === 1) return true;
    throw error;
  }
}

/**
 * Commits `paths` on the current branch as `author` (a name), unless they are already committed
 * as they are (a rerun after a crash commits nothing twice). Returns the commit holding them.
 */
export function commit(paths, message, author) {
  git('add', '--', ...paths);
  if (staged(paths)) {
    const email = `${author.toLowerCase().replace(/[^a-z0-9]+/g, '.')}@agents.miyabi.invalid`;
    const identity = ['-c', `user.name=${author}`, '-c', `user.email=${email}`, '-c', 'commit.gpgsign=false'];
    git(...identity, 'commit', '--quiet', '-m', message, '--', ...paths);
  }
  return git('log', '-1', '--format=%H', '--', ...paths);
}

export function writeText(path, text) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/** The first paragraph of `text`, at most `max` characters. */
export function summarise(text, max = 1000) {
  const paragraph = text.trim().split(/\n\s*\n/, 1)[0] ?? '';
  return paragraph.length > max ? `${paragraph.slice(0, max)}… (${text.length} characters in all)` : paragraph;
}

/**
 * Demo behaviours, from issue labels: `demo:<behaviour>` for every role, `demo:<behaviour>:<role>`
 * for one. crash, hang and fail always; crash-once, fail-once and tempfail-once on attempt 1 only;
 * slow takes three seconds longer.
 */
export function demoBehaviours(task, role) {
  return new Set(
    task.issue.labels
      .map((label) => /^demo:([a-z-]+)(?::([a-z][a-z0-9-]*))?$/.exec(label))
      .filter((match) => match && (match[2] === undefined || match[2] === role))
      .map((match) => match[1]),
  );
}

function misbehave(task, role) {
  const demo = demoBehaviours(task, role);
  const first = task.attempt === 1;
  if (demo.has('crash') || (demo.has('crash-once') && first)) {
    console.log(`${role}: demo crash (attempt ${task.attempt})`);
    process.kill(process.pid, 'SIGKILL');
  }
  if (demo.has('hang')) {
    console.log(`${role}: demo hang (attempt ${task.attempt})`);
    setInterval(() => {}, 1 << 30);
    return new Promise(() => {});
  }
  if (demo.has('fail') || (demo.has('fail-once') && first)) {
    console.error(`${role}: demo failure (attempt ${task.attempt})`);
    process.exit(1);
  }
  if (demo.has('tempfail-once') && first) {
    console.error(`${role}: demo temporary failure, try again later`);
    process.exit(EXIT_TEMPFAIL);
  }
  if (demo.has('slow')) {
    console.log(`${role}: demo slow run (three seconds)`);
    return new Promise((resolve) => setTimeout(resolve, 3_000));
  }
  return undefined;
}

/**
 * The work of each dependency must be in this branch (the orchestra made it from the base branch
 * after they merged, or from their branches): the file their code generator wrote is there. If
 * not, the orchestra has the dependency graph wrong, and the demo says so loudly.
 */
export function checkDependencies(task, role) {
  for (const dependency of task.git?.dependencies ?? []) {
    const file = `miyabi/issue-${dependency.number}.md`;
    if (!existsSync(file)) {
      throw new Error(`${role}: the work of #${dependency.number} (${file}) is not in ${task.branch}, which depends on it: the orchestra started this branch from the wrong place`);
    }
  }
}

/**
 * A merge conflict the orchestra asks this run to resolve: merge what it names into the branch
 * and, where both sides changed the same lines, keep both (the demo's files are lists, so both
 * sides' lines stand). Commits the merge.
 */
export function resolveConflict(task, author) {
  const { conflict } = task;
  if (!conflict) return undefined;
  const email = `${author.toLowerCase().replace(/[^a-z0-9]+/g, '.')}@agents.miyabi.invalid`;
  const identity = ['-c', `user.name=${author}`, '-c', `user.email=${email}`, '-c', 'commit.gpgsign=false'];
  try {
    git(...identity, 'merge', '--no-edit', '--quiet', conflict.theirs.sha);
    return `merged ${conflict.theirs.ref} cleanly`;
  } catch {
    const files = git('diff', '--name-only', '--diff-filter=U').split('\n').filter(Boolean);
    for (const file of files) {
      const kept = readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => !/^(<<<<<<<|=======|>>>>>>>)( |$)/.test(line));
      writeFileSync(file, `${[...new Set(kept)].join('\n').trim()}\n`);
      git('add', '--', file);
    }
    git(...identity, 'commit', '--quiet', '--no-edit');
    return `resolved the conflict with ${conflict.theirs.ref} in ${files.join(', ')}`;
  }
}

/** Runs an example agent: reads the task, obeys demo labels, does `work`, writes its result. */
export async function runExample(role, work) {
  try {
    const task = readTask();
    console.log(`${role}: issue #${task.issue.number}, round ${task.round ?? 0}, attempt ${task.attempt}, in ${process.cwd()}`);
    await misbehave(task, role);
    const result = await work(task);
    writeResult(result);
    console.log(`${role}: ${result.status}: ${result.summary}`);
  } catch (error) {
    console.error(`${role}: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
