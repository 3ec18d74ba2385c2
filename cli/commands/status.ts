import { BatchStatus, isTerminal } from '../../client/index.js';
import { bool, choice, parsePositiveInt, str } from '../args.js';
import type { Command } from '../context.js';
import { EXIT, exitCodeForStatus } from '../exit-codes.js';
import { UsageError } from '../errors.js';
import { batchSummary, batchTable, nextSteps } from '../summary.js';
import { followToEnd } from '../watch.js';

export const status: Command = {
  name: 'status',
  summary: 'show a batch: counts, cost, chunks, ETA; --watch follows it until it ends',
  usage: 'drover status ID [--watch]',
  args: { min: 1, max: 1 },
  options: { watch: { type: 'boolean', short: 'w' } },
  help: `Without --watch, prints the batch and exits 0 whatever its state (with --json: the API's
batch object). With --watch, draws the same progress as submit until the batch ends and exits
with its outcome (0, 5 or 6; 130 on Ctrl-C, which never stops the batch).

  -w, --watch     follow the batch until it ends

Examples
  drover status batch_123
  drover status batch_123 --watch
  drover status batch_123 --json | jq .cost.spent_usd`,
  async run(ctx, { flags, positionals }) {
    const id = positionals[0]!;
    const batch = await ctx.client.batches.retrieve(id, { signal: ctx.signal });
    const watching = bool(flags, 'watch');
    if (watching && !isTerminal(batch.status)) return followToEnd(ctx, id, batch);
    ctx.out.result(batch, () => [...batchSummary(batch, Date.now(), ctx.out.outStyle), ...nextSteps(batch).map((s) => `  ${s}`)]);
    return watching ? exitCodeForStatus(batch.status) : EXIT.ok;
  },
};

export const list: Command = {
  name: 'list',
  summary: 'recent batches, newest first',
  usage: 'drover list [--status STATUS] [--model NAME] [--limit N]',
  args: { min: 0, max: 0 },
  options: { status: { type: 'string' }, model: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' } },
  help: `  --status STATUS   only batches in this status (${BatchStatus.options.join(', ')})
  --model NAME      only batches of this model
  --limit N         at most N (1 to 100, default 20)
  --cursor C        the next page, as printed at the end of the previous one

Examples
  drover list
  drover list --status running --json | jq -r '.data[].id'`,
  async run(ctx, { flags }) {
    const s = str(flags, 'status');
    const limit = str(flags, 'limit');
    const n = limit === undefined ? undefined : parsePositiveInt(limit, '--limit');
    if (n !== undefined && n > 100) throw new UsageError(`--limit ${n} is above 100`);
    const page = await ctx.client.batches.list({
      status: s === undefined ? undefined : choice(s, BatchStatus.options, '--status'),
      model: str(flags, 'model'),
      limit: n,
      cursor: str(flags, 'cursor'),
      signal: ctx.signal,
    });
    ctx.out.result(page, () => batchTable(page, Date.now(), ctx.out.outStyle));
    return EXIT.ok;
  },
};
