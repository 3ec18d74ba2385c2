import type { BatchCreateParams } from '../../client/index.js';
import { BATCH_OPTIONS } from '../args.js';
import { batchRequest } from '../batch-request.js';
import type { Command } from '../context.js';
import { formatIssue } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import { formatCount, plural } from '../format.js';
import { BATCH_FLAGS_HELP } from '../help.js';
import { estimateSummary } from '../summary.js';

/** estimate and validate: the dry runs. FILE is uploaded (an upload is not a batch); no batch is created or started. */

export const estimate: Command = {
  name: 'estimate',
  summary: 'price a batch without running it: items, chunks, tokens, cost low/expected/high',
  usage: 'drover estimate FILE --model NAME [flags]',
  args: { min: 1, max: 1 },
  options: BATCH_OPTIONS,
  help: `Takes the same FILE and flags as submit, checks them the same way and prices the batch.
Nothing is run and no batch is created. Problems in the items exit 3 and are listed by line.

${BATCH_FLAGS_HELP}

Examples
  drover estimate reviews.jsonl -m gpt-4.1-mini --operation classify --categories good,bad
  drover estimate rows.csv --spec request.json --json | jq .cost.expected_usd`,
  async run(ctx, input) {
    const { body } = await batchRequest(ctx, input);
    // Assembled at run time from --spec and the flags, so only the API can check its shape.
    const e = await ctx.bulk.batches.estimate(body as unknown as BatchCreateParams, { signal: ctx.signal });
    ctx.out.result(e, () => estimateSummary(e));
    return EXIT.ok;
  },
};

export const validate: Command = {
  name: 'validate',
  summary: 'check a file and flags: every problem with its line, nothing created',
  usage: 'drover validate FILE --model NAME [flags]',
  args: { min: 1, max: 1 },
  options: BATCH_OPTIONS,
  help: `Takes the same FILE and flags as submit and reports every problem at once, each with its
line in FILE (\`line 12: content: ...\`) or the request field (\`categories: ...\`).
Exits 0 when valid ("valid: N items in M chunks"), 3 when there are problems.

${BATCH_FLAGS_HELP}

Examples
  drover validate reviews.jsonl -m gpt-4.1-mini --operation classify --categories good,bad
  drover validate rows.csv -m gpt-4.1-mini --prompt 'Tag: {text}' --json | jq '.issues[]'`,
  async run(ctx, input) {
    const { body } = await batchRequest(ctx, input);
    const v = await ctx.bulk.validate(body, ctx.signal);
    ctx.out.result(v, () => {
      if (v.valid) return [`valid: ${plural(v.item_count ?? 0, 'item')} in ${plural(v.chunk_count ?? 0, 'chunk')}`];
      const more = v.issue_count - v.issues.length;
      return [
        ...v.issues.map(formatIssue),
        ...(more > 0 ? [`... and ${formatCount(more)} more`] : []),
        `invalid: ${plural(v.issue_count, 'problem')}`,
      ];
    });
    return v.valid ? EXIT.ok : EXIT.invalidInput;
  },
};
