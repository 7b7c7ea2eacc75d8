/**
 * What a process tree costs (Linux /proc): CPU seconds and resident memory of a process and all
 * its descendants, for the agents' resource metrics (a runner with the agent program it runs).
 *
 * CPU counts each live process's own time and the time of the children it has reaped (`cutime`,
 * `cstime`), so a child that ends moves its time into its parent's instead of losing it: the sum
 * only grows while the root lives. Clock ticks are taken as 100 a second (USER_HZ on every Linux
 * Node.js runs on). Without procfs the answer is undefined.
 */
import { readFileSync, readdirSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

interface ProcEntry {
  ppid: number;
  ticks: number;
}

/** Every process's parent and CPU ticks (own and reaped children's), read once. */
export function processTable(): Map<number, ProcEntry> {
  const table = new Map<number, ProcEntry>();
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return table;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = text.slice(text.lastIndexOf(')') + 2).trim().split(' ');
      // fields[0] is stat's 3rd field (state): utime, stime, cutime, cstime are its 14th to 17th.
      const ticks = [11, 12, 13, 14].reduce((sum, index) => sum + Number(fields[index] ?? 0), 0);
      table.set(Number(name), { ppid: Number(fields[1]), ticks });
    } catch {
      // ended while we read
    }
  }
  return table;
}

function residentBytes(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** `root` and its descendants: CPU seconds and resident bytes; undefined when `root` is gone. */
export function processTreeUsage(root: number, table: Map<number, ProcEntry> = processTable()): { cpuSeconds: number; residentBytes: number } | undefined {
  if (!table.has(root)) return undefined;
  const children = new Map<number, number[]>();
  for (const [pid, entry] of table) {
    const list = children.get(entry.ppid);
    if (list) list.push(pid);
    else children.set(entry.ppid, [pid]);
  }
  let ticks = 0;
  let bytes = 0;
  const stack = [root];
  const seen = new Set<number>();
  while (stack.length > 0) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    ticks += table.get(pid)?.ticks ?? 0;
    bytes += residentBytes(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return { cpuSeconds: ticks / TICKS_PER_SECOND, residentBytes: bytes };
}
