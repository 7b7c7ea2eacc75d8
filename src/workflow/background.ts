/**
 * Work the engine starts and does not wait for: tracker writes, merge checks, lookups on the
 * tracker. Each is tracked until it ends, so `flush()` (tests, batch mode) can wait for all of
 * it, and `close()` for what is in flight, a few seconds at most. A tracked promise never
 * rejects: its work reports its own failures.
 */
export class Background {
  readonly #running = new Set<Promise<unknown>>();

  track(work: Promise<unknown>): void {
    const tracked = work.catch(() => undefined).finally(() => this.#running.delete(tracked));
    this.#running.add(tracked);
  }

  get size(): number {
    return this.#running.size;
  }

  /** Waits for what runs now. */
  settled(): Promise<unknown> {
    return Promise.all([...this.#running]);
  }

  /** Waits for what runs now, at most `ms`. */
  async settledWithin(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.settled(), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }
}
