/**
 * The workflow's steps, one at a time in the order they arrive: a step reads and writes records
 * that the next one reads. Once closed, later steps are refused rather than run against a store
 * that is going away.
 */
import type { Background } from './background.ts';

export class SerialSteps {
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;

  get closed(): boolean {
    return this.#closed;
  }

  run<T>(step: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(() => (this.#closed ? Promise.reject(new Error('workflow closed')) : step()));
    this.#tail = next.catch(() => undefined);
    return next;
  }

  /** Refuses later steps; resolves when the steps queued so far have ended. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#tail;
  }

  /** Waits until no step is queued and `background` is idle. */
  async flush(background: Background): Promise<void> {
    // A step in progress may start background work, and background work may queue a step.
    for (;;) {
      const tail = this.#tail;
      await tail;
      if (background.size === 0 && tail === this.#tail) return;
      await background.settled();
    }
  }
}
