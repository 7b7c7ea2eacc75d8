/**
 * The machine's processes as the tests look at them: each pid with its argv (/proc/<pid>/cmdline)
 * and parent. A process that ends while it is read is left out.
 */
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcessEntry {
  pid: number;
  ppid: number;
  argv: string[];
}

export function listProcesses(): ProcessEntry[] {
  const entries: ProcessEntry[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').filter((arg) => arg !== '');
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      entries.push({ pid: Number(name), ppid, argv });
    } catch {
      // ended while we read
    }
  }
  return entries;
}

/** `root` and every process under it. */
export function processTree(root: number, all: ProcessEntry[] = listProcesses()): ProcessEntry[] {
  const tree: ProcessEntry[] = [];
  const wanted = new Set([root]);
  // Parents come before children in pid order only mostly: repeat until nothing is added.
  for (let added = true; added; ) {
    added = false;
    for (const entry of all) {
      if (!tree.includes(entry) && (wanted.has(entry.pid) || wanted.has(entry.ppid))) {
        wanted.add(entry.pid);
        tree.push(entry);
        added = true;
      }
    }
  }
  return tree;
}
