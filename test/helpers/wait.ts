export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface UntilOptions {
  /** Give up after this long; default 60 s (a ceiling: a passing test never waits it out). */
  timeoutMs?: number;
  /** Between probes; default 100 ms. */
  intervalMs?: number;
  /** Named in the failure. */
  what?: string;
}

/**
 * Probes until `ok` holds for the value and returns that value; fails with the last value seen.
 * Without `ok`, a truthy value is enough.
 */
export async function until<T>(probe: () => T | Promise<T>, ok: (v: T) => boolean = Boolean, opts: UntilOptions = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${opts.what ?? 'condition'} not reached: ${JSON.stringify(v)?.slice(0, 500)}`);
    await sleep(opts.intervalMs ?? 100);
  }
}
