import type { BatchCreateParams } from '../../client/index.js';
import { BATCH_OPTIONS } from '../args.js';
import { batchRequest, discardUpload } from '../batch-request.js';
import type { Command } from '../context.js';
import { formatIssue } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import { formatCount } from '../format.js';
import { BATCH_FLAGS_HELP } from '../help.js';
import { checkedLine, estimateSummary } from '../summary.js';

/**
 * estimate and validate: the dry runs. FILE goes up as a temporary upload (the API checks files
 * where they are stored, by the same code as a submit), deleted as soon as it is checked and
 * expiring within the hour should that fail; no batch is created or started.
 */

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
    const { body, file } = await batchRequest(ctx, input, { transient: true });
    let e;
    try {
      // Assembled at run time from --spec and the flags, so only the API can check its shape.
      e = await ctx.bulk.batches.estimate(body as unknown as BatchCreateParams, { signal: ctx.signal });
    } finally {
      await discardUpload(ctx, file);
    }
    ctx.out.note(`checked ${formatCount(file.line_count)} line${file.line_count === 1 ? '' : 's'}: all valid, priced`);
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
Exits 0 when valid ("checked N lines: N valid, M chunks planned"), 3 when there are problems
("checked 6 lines: 1 valid, 5 with errors").

${BATCH_FLAGS_HELP}

Examples
  drover validate reviews.jsonl -m gpt-4.1-mini --operation classify --categories good,bad
  drover validate rows.csv -m gpt-4.1-mini --prompt 'Tag: {text}' --json | jq '.issues[]'`,
  async run(ctx, input) {
    const { body, file } = await batchRequest(ctx, input, { transient: true });
    let v;
    try {
      v = await ctx.bulk.validate(body, ctx.signal);
    } finally {
      await discardUpload(ctx, file);
    }
    ctx.out.result(v, () => {
      if (v.valid) return [checkedLine(v, file.line_count)];
      const more = v.issue_count - v.issues.length;
      return [...v.issues.map(formatIssue), ...(more > 0 ? [`... and ${formatCount(more)} more`] : []), checkedLine(v, file.line_count)];
    });
    return v.valid ? EXIT.ok : EXIT.invalidInput;
  },
};
