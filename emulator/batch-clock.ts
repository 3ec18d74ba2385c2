/**
 * Time-keeping shared by the three batch stores: a batch's state is derived from the clock
 * whenever it is read, and one timer per batch moves it on at its next transition so nothing
 * waits on a poll. Requests are processed in input order; the share processed follows the share
 * of `processingMs` elapsed, so a cancel or expiry part-way through leaves partial results, as
 * with the real APIs.
 */
import { seededRandom, sha256 } from './ids.js';

/** The real cancelling phases can last minutes; tests need them short but still observable. */
export const MAX_CANCEL_DELAY_MS = 200;

/** How many of `total` requests are processed by `now`, when processing runs for `processingMs` from `startMs`. */
export function requestsDueAt(total: number, startMs: number, processingMs: number, now: number): number {
  if (now < startMs) return 0;
  const fraction = processingMs === 0 ? 1 : Math.min(1, (now - startMs) / processingMs);
  return Math.floor(total * fraction);
}

export class TransitionTimers {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  /** Calls `due` at `atMs` (replacing any earlier timer for `id`); `undefined` just cancels. */
  schedule(id: string, atMs: number | undefined, due: () => void): void {
    this.cancel(id);
    if (atMs === undefined) return;
    // +1 ms: a timer may fire a hair before Date.now() reaches `atMs`.
    const timer = setTimeout(
      () => {
        this.timers.delete(id);
        due();
      },
      Math.max(0, atMs - Date.now() + 1),
    );
    timer.unref();
    this.timers.set(id, timer);
  }

  cancel(id: string): void {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
  }

  clear(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}

/**
 * Shuffles in place, reproducibly for a given seed: result files come back out of input order
 * because no provider promises order, and consumers must join on their ids.
 */
export function shuffleSeeded<T>(items: T[], seed: string): void {
  const rand = seededRandom(sha256(seed));
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
}
