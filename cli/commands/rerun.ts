import { RerunStatus } from '../../domain/batch-spec.js';
import type { RerunParams } from '../../client/index.js';
import { choice, list, parsePositiveInt, str } from '../args.js';
import type { Command } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { styleStatus } from '../format.js';

export const rerun: Command = {
  name: 'rerun',
  summary: "run an ended batch's failed items again, as a new batch",
  usage: 'drover rerun ID [--status failed,cancelled] [--model NAME] [--mode M] [--max-attempts N]',
  args: { min: 1, max: 1 },
  options: {
    status: { type: 'string', multiple: true },
    model: { type: 'string', short: 'm' },
    mode: { type: 'string' },
    'max-attempts': { type: 'string' },
  },
  help: `Makes a new batch of the items of batch ID that ended with the given outcomes, with ID's
settings unless a flag changes one, and prints it. The items are copied on the server. The new
batch names ID in rerun_of; drover status ID lists its reruns. A batch still running exits 7.

  --status S[,S]      which items: failed (the default), cancelled, succeeded (or repeated)
  -m, --model NAME    another model
  --mode M            auto | batch | realtime
  --max-attempts N    tries per item

Examples
  drover rerun batch_123
  drover rerun batch_123 --status failed,cancelled --model gpt-4.1
  drover status $(drover rerun batch_123 --json | jq -r .id) --watch`,
  async run(ctx, { flags, positionals }) {
    const params: RerunParams = {};
    const statuses = list(flags, 'status').flatMap((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    );
    if (statuses.length > 0) params.status = statuses.map((s) => choice(s, RerunStatus.options, '--status'));
    const model = str(flags, 'model');
    if (model !== undefined) params.model = model;
    const mode = str(flags, 'mode');
    if (mode !== undefined) params.mode = choice(mode, ['auto', 'batch', 'realtime'] as const, '--mode');
    const attempts = str(flags, 'max-attempts');
    if (attempts !== undefined) params.max_attempts = parsePositiveInt(attempts, '--max-attempts');
    const batch = await ctx.client.batches.rerun(positionals[0]!, params, { signal: ctx.signal });
    ctx.out.result(batch, () => [
      `${batch.id}  ${styleStatus(batch.status, ctx.out.outStyle)}  ${batch.counts.total} items of ${batch.rerun_of ?? positionals[0]}`,
      `  follow it:  drover status ${batch.id} --watch`,
    ]);
    return EXIT.ok;
  },
};
