import { CancelledFailure } from '@temporalio/common';

/**
 * At most `size` holders at once; the others wait in arrival order. A worker bounds its chunk
 * transfers with it: each holds a chunk's items, requests or results in memory, so the worker's
 * memory follows this bound and not how many chunks its batches run in parallel.
 */
export class TransferSlots {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly size: number) {
    this.free = size;
  }

  /** Runs `fn` in a slot; a cancel that arrives while it waits for one ends the wait. */
  async use<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  private acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new CancelledFailure('cancelled while waiting for a transfer slot'));
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new CancelledFailure('cancelled while waiting for a transfer slot'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(grant);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}
