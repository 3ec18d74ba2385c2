import { createInterface } from 'node:readline/promises';
import type { Context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { formatUsd } from '../format.js';

const POLL_MS = 1000;
const SHOWN = 3;

/**
 * `drover submit --sample N`: waits for the sample, shows a few of its results, its success rate
 * and the projected cost, then approves (asked on a terminal, or `--yes`) or rejects. Null when
 * approved (the caller follows the batch to its end), else the exit code.
 */
export async function decideAfterSample(ctx: Context, id: string, yes: boolean): Promise<number | null> {
  ctx.out.note('running the sample…');
  let batch = await ctx.client.batches.retrieve(id, { signal: ctx.signal });
  while (batch.status !== 'awaiting_approval') {
    // Ended (an automatic decision, a cancel) or moved on: the caller reports it.
    if (batch.status !== 'queued' && batch.status !== 'running') return null;
    await new Promise((r) => setTimeout(r, POLL_MS));
    batch = await ctx.client.batches.retrieve(id, { signal: ctx.signal });
  }
  const page = await ctx.client.batches.output(id, { sample: true, limit: SHOWN, signal: ctx.signal });
  for (const r of page.data) {
    const shown = r.output === null || r.output === undefined ? (r.error?.message ?? '') : JSON.stringify(r.output);
    ctx.out.note(`  ${r.id}  ${r.status}  ${shown.slice(0, 100)}`);
  }
  const s = batch.sample;
  if (s) {
    ctx.out.note(
      `sample: ${s.succeeded} of ${s.size} succeeded (${(s.success_rate * 100).toFixed(1)}%), cost ${formatUsd(s.cost_usd)}; projected total ${formatUsd(s.projected_total_usd)}`,
    );
  }
  let approved = yes;
  if (!yes) {
    if (!process.stdin.isTTY) {
      ctx.out.note(`not a terminal: approve with drover approve ${id}, or reject with drover reject ${id}`);
      return EXIT.ok;
    }
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      approved = /^y(es)?$/i.test((await rl.question('run the rest of the batch? [y/N] ')).trim());
    } finally {
      rl.close();
    }
  }
  if (approved) {
    await ctx.client.batches.approve(id, { signal: ctx.signal });
    ctx.out.note('approved: the rest of the batch runs');
    return null;
  }
  await ctx.client.batches.reject(id, { signal: ctx.signal, reason: 'rejected at the prompt of drover submit --sample' });
  ctx.out.note(`rejected: batch ${id} ends; only the sample was paid for`);
  return EXIT.notCompleted;
}
