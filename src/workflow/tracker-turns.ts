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
 *   back another issue's final label for longer than one round.
 */
export class TrackerTurns {
  readonly #waiting: Array<() => void> = [];
  #busy = false;

  /** Resolves when it is the caller's turn, with the function that ends it (call it exactly once). */
  take(): Promise<() => void> {
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
      if (this.#busy) this.#waiting.push(grant);
      else grant();
    });
  }

  #next(): void {
    const grant = this.#waiting.shift();
    if (grant) grant();
    else this.#busy = false;
  }
}
