/**
 * A stand-in for systemd's notification socket: a real unix datagram socket (python3, since Node
 * has none) that prints every datagram it reads as one JSON line. Reading a message closes the
 * file descriptor `systemd-notify` passes with `BARRIER=1`, which is what releases it, as systemd
 * does. `messages` holds each datagram as its `KEY=value` lines, barriers left out.
 */
import { execa, type ResultPromise } from 'execa';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { waitFor } from './wait.ts';

const LISTENER = `
import json, os, socket, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
print(json.dumps({"listening": path}), flush=True)
while True:
    data = s.recv(65536)
    print(json.dumps({"message": data.decode("utf-8", "replace")}), flush=True)
`;

export interface NotifyListener {
  path: string;
  /** Every datagram read so far, in order, each as its lines (barriers left out). */
  messages: string[][];
  /** The messages holding `line` (`READY=1`, `WATCHDOG=1` …). */
  with(line: string): string[][];
  /** Waits until `count` messages hold `line`; returns them. */
  waitFor(line: string, count?: number, timeoutMs?: number): Promise<string[][]>;
  close(): Promise<void>;
}

export async function notifyListener(dir: string, name = 'notify.sock'): Promise<NotifyListener> {
  const path = join(dir, name);
  const child: ResultPromise = execa('python3', ['-c', LISTENER, path], { reject: false, stdout: 'pipe', stderr: 'inherit' });
  const messages: string[][] = [];
  let listening = false;
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (line) => {
    const parsed = JSON.parse(line) as { listening?: string; message?: string };
    if (parsed.listening) listening = true;
    if (parsed.message === undefined) return;
    const fields = parsed.message.split('\n').filter(Boolean);
    if (!fields.includes('BARRIER=1')) messages.push(fields);
  });
  await waitFor(() => listening || undefined, { timeoutMs: 10_000, what: 'the notify socket listener' });
  const holding = (line: string) => messages.filter((message) => message.includes(line));
  return {
    path,
    messages,
    with: holding,
    waitFor: (line, count = 1, timeoutMs = 30_000) =>
      waitFor(() => (holding(line).length >= count ? holding(line) : undefined), { timeoutMs, what: `${count} × ${line}` }),
    async close() {
      child.kill('SIGTERM');
      await child;
    },
  };
}
