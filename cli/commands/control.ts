import type { BatchView } from '../../client/index.js';
import { LIMITS_OPTIONS, limitsFromFlags } from '../args.js';
import type { Command, Context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { formatUsd, styleStatus } from '../format.js';

/** cancel, pause, resume and limits: one call each, answered with the batch. A batch that has ended answers 409 (exit 7). */

function report(ctx: Context, batch: BatchView, extra: string[] = []): number {
  ctx.out.result(batch, () => [`${batch.id}  ${styleStatus(batch.status, ctx.out.outStyle)}`, ...extra]);
  return EXIT.ok;
}

export const cancel: Command = {
  name: 'cancel',
  summary: 'cancel a batch (finished results are kept)',
  usage: 'drover cancel ID',
  args: { min: 1, max: 1 },
  options: {},
  help: `Running provider batches are cancelled and no new work starts; results already in are
kept. The batch goes to cancelling, then cancelled. A batch that has ended exits 7.

Example
  drover cancel batch_123`,
  async run(ctx, { positionals }) {
    return report(ctx, await ctx.client.batches.cancel(positionals[0]!, { signal: ctx.signal }));
  },
};

export const approve: Command = {
  name: 'approve',
  summary: 'approve a batch awaiting approval after its sample: the rest runs',
  usage: 'drover approve ID',
  args: { min: 1, max: 1 },
  options: {},
  help: `A batch submitted with a sample (--sample N) waits in awaiting_approval once the sample has
run. A batch not awaiting approval exits 7.

Example
  drover approve batch_123`,
  async run(ctx, { positionals }) {
    return report(ctx, await ctx.client.batches.approve(positionals[0]!, { signal: ctx.signal }));
  },
};

export const reject: Command = {
  name: 'reject',
  summary: 'reject a batch awaiting approval after its sample: it ends failed',
  usage: 'drover reject ID [--reason TEXT]',
  args: { min: 1, max: 1 },
  options: { reason: { type: 'string' } },
  help: `Only the sample was sent and paid for. A batch not awaiting approval exits 7.

Example
  drover reject batch_123 --reason 'outputs too long'`,
  async run(ctx, { positionals, flags }) {
    const reason = typeof flags.reason === 'string' ? flags.reason : undefined;
    return report(ctx, await ctx.client.batches.reject(positionals[0]!, { signal: ctx.signal, ...(reason ? { reason } : {}) }));
  },
};

export const pause: Command = {
  name: 'pause',
  summary: 'pause a batch: no new chunk starts; running ones finish',
  usage: 'drover pause ID',
  args: { min: 1, max: 1 },
  options: {},
  help: `Example
  drover pause batch_123 && drover resume batch_123`,
  async run(ctx, { positionals }) {
    return report(ctx, await ctx.client.batches.pause(positionals[0]!, { signal: ctx.signal }));
  },
};

export const resume: Command = {
  name: 'resume',
  summary: 'resume a paused batch',
  usage: 'drover resume ID',
  args: { min: 1, max: 1 },
  options: {},
  help: `Example
  drover resume batch_123`,
  async run(ctx, { positionals }) {
    return report(ctx, await ctx.client.batches.resume(positionals[0]!, { signal: ctx.signal }));
  },
};

export const limits: Command = {
  name: 'limits',
  summary: 'change the spend limit or deadline of a running batch',
  usage: 'drover limits ID [--max-cost USD|none] [--deadline ISO|none] [--time-limit 30m]',
  args: { min: 1, max: 1 },
  options: LIMITS_OPTIONS,
  help: `  --max-cost USD|none     the new spend ceiling; none removes it. Raising it resumes a
                          batch waiting for budget; a limit below what is spent is refused (exit 3)
  --deadline ISO|none     the new deadline; none removes it
  --time-limit 30m        a deadline this long from now (90s, 30m, 2h, 1d)

Examples
  drover limits batch_123 --max-cost 50
  drover limits batch_123 --time-limit 2h
  drover limits batch_123 --max-cost none --deadline none`,
  async run(ctx, { flags, positionals }) {
    const batch = await ctx.client.batches.setLimits(positionals[0]!, limitsFromFlags(flags), { signal: ctx.signal });
    return report(ctx, batch, [
      `  limit     ${batch.cost.limit_usd === null ? 'none' : formatUsd(batch.cost.limit_usd)} (${formatUsd(batch.cost.spent_usd)} spent)`,
      `  deadline  ${batch.deadline ?? 'none'}`,
    ]);
  },
};
