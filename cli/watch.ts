import { isRetryable, isTerminal, type BatchView } from '../client/index.js';
import type { Context } from './context.js';
import { EXIT, exitCodeForStatus } from './exit-codes.js';
import { LogRenderer, SilentRenderer, TtyRenderer, type Renderer } from './progress.js';
import { withProgram } from './program.js';
import { finalLine, nextSteps } from './summary.js';

/** How long the API may stay unreachable before a watch gives up (the client retries each poll briefly itself). */
const OUTAGE_LIMIT_MS = 5 * 60_000;

export function rendererFor(ctx: Context): Renderer {
  if (!ctx.out.chatty) return new SilentRenderer();
  return ctx.out.stderr.isTTY ? new TtyRenderer(ctx.out.stderr, ctx.out.errStyle) : new LogRenderer(ctx.out.stderr);
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });

export interface WatchResult {
  /** The last state seen; undefined only when interrupted before the first answer. */
  batch: BatchView | undefined;
  interrupted: boolean;
}

/**
 * Follows a batch until it ends, drawing progress. Ctrl-C stops the watching, never the batch.
 * A watch can last hours, so an API restart or a network blip must not end it: polls that fail
 * to connect are retried for a while, with a note, before giving up.
 */
export async function watch(ctx: Context, id: string, first?: BatchView): Promise<WatchResult> {
  const renderer = rendererFor(ctx);
  let last = first;
  let failingSince: number | undefined;
  if (first) renderer.update(first);
  try {
    for (;;) {
      if (ctx.signal.aborted) return { batch: last, interrupted: true };
      try {
        const batch = await ctx.client.batches.wait(id, {
          pollMs: ctx.pollMs,
          signal: ctx.signal,
          onProgress: (b) => {
            last = b;
            if (failingSince !== undefined) renderer.note('the API answers again');
            failingSince = undefined;
            renderer.update(b);
          },
        });
        return { batch, interrupted: false };
      } catch (err) {
        if (ctx.signal.aborted) return { batch: last, interrupted: true };
        if (!isRetryable(err)) throw err;
        const now = Date.now();
        if (failingSince === undefined) {
          failingSince = now;
          renderer.note(`cannot reach the API (${(err as Error).message}); still trying`);
        } else if (now - failingSince > OUTAGE_LIMIT_MS) {
          throw err;
        }
        await sleep(Math.max(ctx.pollMs, 2000), ctx.signal);
      }
    }
  } finally {
    renderer.stop();
  }
}

/**
 * Watches a batch to its end and reports it: the last state under --json, else one summary line
 * and what to run next. Exits with the code of the batch's final status, or 130 on Ctrl-C.
 */
export async function followToEnd(ctx: Context, id: string, first?: BatchView): Promise<number> {
  const { batch, interrupted } = await watch(ctx, id, first);
  if (interrupted || !batch || !isTerminal(batch.status)) {
    // Said even under --quiet: the user must learn the batch is still running.
    ctx.out.error(withProgram(`stopped watching ${id}; the batch keeps running. Follow it with: drover status ${id} --watch`));
    if (ctx.out.json && batch) ctx.out.document(batch);
    return EXIT.interrupted;
  }
  if (ctx.out.json) ctx.out.document(batch);
  else {
    ctx.out.line(finalLine(batch, Date.now(), ctx.out.outStyle));
    if (!ctx.out.quiet) for (const step of nextSteps(batch)) ctx.out.line(`  ${step}`);
  }
  return exitCodeForStatus(batch.status);
}
