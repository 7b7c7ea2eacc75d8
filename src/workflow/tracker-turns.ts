/**
 * Turns at the tracker: one issue's label or comment write at a time, the issues taking turns in
 * the order they asked (an issue asks again after each write, so it goes to the back). Two reasons:
 *
 * - GitHub asks for writes one at a time and spaced (the client spaces them), so writes queue
 *   anyway. Queued in the client, a write is fixed when it joins the queue, seconds before it
 *   leaves; waiting for a turn instead, the issue decides what to write when its turn comes —
 *   the state label it has then, no start comment for work that has finished since
 *   (./tracker-writer.ts).
 * - Round robin: an issue with many writes waiting takes one turn per round, so it never holds
 *   back another issue's final label for longer than one round; and a waiter that is `urgent`
 *   when the turn is handed on (asked then, not when it began to wait: an issue's outbox moves on
 *   while it waits) goes before the others — an issue's final state label, say.
 */
export class TrackerTurns {
  readonly #waiting: Array<{ grant: () => void; urgent: (() => boolean) | undefined }> = [];
  /** Waiters that may be urgent: while there are none, a turn goes to the first in line without asking each waiter. */
  #mayBeUrgent = 0;
  #busy = false;

  /** Resolves when it is the caller's turn, with the function that ends it (call it exactly once); `urgent` absent: never. */
  take(urgent?: () => boolean): Promise<() => void> {
    return new Promise((resolve) => {
      const grant = () => {
        this.#busy = true;
        let ended = false;
        resolve(() => {
          if (ended) return;
          ended = true;
          this.#next();
        });
      };
      if (!this.#busy) return grant();
      this.#waiting.push({ grant, urgent });
      if (urgent) this.#mayBeUrgent += 1;
    });
  }

  #next(): void {
    // Asking every waiter at every turn costs the square of the waiters (a thousand issues' labels waiting): only
    // those that can be urgent are asked.
    const index = this.#mayBeUrgent === 0 ? 0 : Math.max(0, this.#waiting.findIndex((waiter) => waiter.urgent?.() === true));
    const [waiter] = this.#waiting.splice(index, 1);
    if (!waiter) {
      this.#busy = false;
      return;
    }
    if (waiter.urgent) this.#mayBeUrgent -= 1;
    waiter.grant();
  }
}
