import type { BatchCreateParams } from '../../client/index.js';
import { BATCH_OPTIONS, bool } from '../args.js';
import { batchRequest } from '../batch-request.js';
import type { Command } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { formatCount } from '../format.js';
import { BATCH_FLAGS_HELP } from '../help.js';
import { followToEnd } from '../watch.js';
import { decideAfterSample } from './sample.js';

export const submit: Command = {
  name: 'submit',
  summary: 'upload a file of items, start a batch and wait for it with live progress',
  usage: 'drover submit FILE --model NAME [flags]',
  args: { min: 1, max: 1 },
  options: {
    ...BATCH_OPTIONS,
    'no-wait': { type: 'boolean' },
    detach: { type: 'boolean', short: 'd' },
  },
  help: `Starts a batch and, by default, waits until it ends, drawing its progress on stderr (a
redrawn line on a terminal; a plain line at most every 5 s otherwise). Ctrl-C stops watching
and leaves the batch running. Exits with the batch's outcome: 0 completed, 5 completed with
failures, 6 failed/cancelled/timed out/out of budget (see drover --help).

  -d, --detach, --no-wait     print the batch id (stdout) and return at once

${BATCH_FLAGS_HELP}

Examples
  drover submit reviews.jsonl -m gpt-4.1-mini --operation classify --categories positive,negative,neutral
  drover submit tickets.csv -m gpt-4.1-mini --field 'urgency:categorical:low|high' --field product:string
  drover submit docs.jsonl -m gpt-4.1-mini --operation summarize --max-words 50 --max-cost 20 --time-limit 6h
  drover submit rows.csv -m gpt-4.1-mini --prompt 'Translate to French: {text}' --detach
  drover submit items.jsonl --spec request.json --json | jq .counts`,
  async run(ctx, input) {
    const { body, file } = await batchRequest(ctx, input);
    // Assembled at run time from --spec and the flags, so only the API can check its shape.
    const batch = await ctx.bulk.batches.submit(body as unknown as BatchCreateParams, { signal: ctx.signal });
    // The server sends it this once; without it the deliveries cannot be verified.
    if (batch.webhook_secret) ctx.out.note(`webhook signing secret (shown once, keep it): ${batch.webhook_secret}`);
    for (const warning of batch.warnings ?? []) ctx.out.note(`warning: ${warning}`);
    if (bool(input.flags, 'detach') || bool(input.flags, 'no-wait')) {
      if (ctx.out.json) ctx.out.document(batch);
      else ctx.out.line(batch.id);
      ctx.out.note(
        `batch ${batch.id} started (${formatCount(batch.counts.total || file.line_count)} items); follow it with: drover status ${batch.id} --watch`,
      );
      return EXIT.ok;
    }
    ctx.out.note(
      `batch ${batch.id} started: ${formatCount(batch.counts.total || file.line_count)} items, ${batch.model}. Ctrl-C stops watching; the batch keeps running.`,
    );
    if (body.sample) {
      const decided = await decideAfterSample(ctx, batch.id, bool(input.flags, 'yes'));
      if (decided !== null) return decided;
    }
    return followToEnd(ctx, batch.id, batch);
  },
};
