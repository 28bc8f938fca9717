/**
 * A FIFO lock: `take()` reserves a place in line at once (synchronously) and resolves when the
 * places before it are released. Reserving in call order is what lets a pipelining client keep
 * its reads in the same order as its writes.
 */
export class Turnstile {
  private tail: Promise<void> = Promise.resolve();

  take(): Promise<() => void> {
    let release!: () => void;
    const prev = this.tail;
    this.tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    return prev.then(() => release);
  }
}
