/**
 * One Server-Sent Events client, with a bounded queue: what the console's live event stream
 * (/api/events) writes through.
 *
 * A write goes straight to the socket while the socket keeps up. Once the socket pushes back
 * (`write()` returns false: the kernel's buffers are full, the browser is not reading), events
 * wait in a queue of at most `capacity`; past it they are dropped and counted. When the socket
 * drains, the queue is written, then one `dropped` event saying how many were lost, so the client
 * knows its view has a gap (and can reload what it missed). Memory per client is bounded by
 * `capacity` events whatever the client does; a comment line every `keepAliveMs` keeps proxies
 * from closing an idle stream.
 *
 *   event: inspection
 *   data: {"kind":"snapshot",…}
 *
 *   event: dropped
 *   data: {"dropped":1234}
 */
import type { ServerResponse } from 'node:http';

export interface SseOptions {
  capacity: number;
  /** Told of each event dropped for this client (a metric). */
  onDrop?: (count: number) => void;
  keepAliveMs?: number;
}

export class SseStream {
  readonly #res: ServerResponse;
  readonly #options: SseOptions;
  readonly #queue: string[] = [];
  readonly #keepAlive: NodeJS.Timeout;
  #blocked = false;
  #dropped = 0;
  #closed = false;
  /** Events dropped for this client so far. */
  droppedTotal = 0;

  constructor(res: ServerResponse, options: SseOptions) {
    this.#res = res;
    this.#options = options;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(': stream open\n\n');
    this.#keepAlive = setInterval(() => this.#write(': keep-alive\n\n'), options.keepAliveMs ?? 15_000);
    res.on('close', () => this.close());
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends one event (`data` is already JSON text, one line). Never blocks, never grows past `capacity`. */
  send(event: string, data: string): void {
    if (this.#closed) return;
    const chunk = `event: ${event}\ndata: ${data}\n\n`;
    if (!this.#blocked) return this.#write(chunk);
    if (this.#queue.length >= this.#options.capacity) {
      this.#dropped += 1;
      this.droppedTotal += 1;
      this.#options.onDrop?.(1);
      return;
    }
    this.#queue.push(chunk);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#keepAlive);
    this.#queue.length = 0;
    if (!this.#res.writableEnded) this.#res.end();
  }

  #write(chunk: string): void {
    if (this.#closed || this.#blocked) return;
    if (!this.#res.write(chunk)) {
      this.#blocked = true;
      this.#res.once('drain', () => this.#drain());
    }
  }

  #drain(): void {
    this.#blocked = false;
    while (this.#queue.length > 0 && !this.#blocked && !this.#closed) this.#write(this.#queue.shift()!);
    if (this.#blocked || this.#closed || this.#dropped === 0) return;
    const dropped = this.#dropped;
    this.#dropped = 0;
    this.#write(`event: dropped\ndata: ${JSON.stringify({ dropped })}\n\n`);
  }
}
