/**
 * Does the cost limit hold when everything goes wrong? Every answer the emulator gives is
 * malformed JSON, so each item is repaired up to `max_attempts` (3) times, in batch mode and in
 * realtime mode. A first run per mode, without a limit, counts the paid answers per item
 * (max_attempts 3 allows 3) and what they cost; the runs that follow get a limit of a fraction of
 * that (0.5 by default), so the limit, not the attempts, is what ends them.
 *
 *   node --import tsx bench/budget-cap.ts --items 200 --repeat 3
 *
 * The batch is read every 200 ms through the API, as a user would watch it; the figure that
 * matters is the most it was ever seen to have spent against its limit.
 */
import { parseArgs } from 'node:util';
import { startBenchStack } from './bench-stack.js';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '200' },
    repeat: { type: 'string', default: '3' },
    /** The limit as a fraction of what the same batch spends without one. */
    'limit-factor': { type: 'string', default: '0.5' },
  },
});
const ITEMS = Number(args.items);
const REPEAT = Number(args.repeat);
const FACTOR = Number(args['limit-factor']);
const TERMINAL = ['completed', 'completed_with_failures', 'failed', 'cancelled', 'budget_exhausted', 'timed_out'];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Batch {
  status: string;
  cost: { spent_usd: number };
  counts: { succeeded: number; failed: number; cancelled: number };
}

async function main(): Promise<void> {
  const stack = await startBenchStack({
    name: 'budget',
    processingMs: 200,
    apiEnv: { DROVER_POLL_INITIAL_MS: '200', DROVER_POLL_MAX_MS: '500' },
  });
  // Whatever fails, the servers, processes and the scratch database go with the bench.
  try {
    const { baseUrl, emulator, auth } = stack;
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${baseUrl}${path}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const json = (await res.json()) as any;
      if (res.status >= 300) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
    const request = (mode: string, run: string) => ({
      model: 'gpt-4.1-mini',
      mode,
      system_prompt: 'Label the support ticket.',
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'label',
          strict: true,
          schema: {
            type: 'object',
            properties: { label: { type: 'string', enum: ['late', 'damaged', 'fine'] }, confidence: { type: 'number' } },
            required: ['label', 'confidence'],
            additionalProperties: false,
          },
        },
      },
      items: Array.from({ length: ITEMS }, (_, i) => ({
        id: `${run}-${i}`,
        content: `Ticket ${i}: the parcel arrived late and the box was damaged.`,
      })),
      chunk_size: 20,
      max_parallel_chunks: 4,
      max_attempts: 3,
    });
    /** Reads the batch every 200 ms until it ends; returns the end and the most it was seen to spend. */
    const watch = async (id: string) => {
      let maxSpent = 0;
      for (;;) {
        const b = (await (await fetch(`${baseUrl}/v1/batches/${id}`, { headers: auth })).json()) as Batch;
        maxSpent = Math.max(maxSpent, b.cost.spent_usd);
        if (TERMINAL.includes(b.status)) return { batch: b, maxSpent };
        await new Promise((r) => setTimeout(r, 200));
      }
    };

    emulator.setFaults({ malformed_json: { every: 1, once: false } });
    console.log(
      `bench: ${ITEMS} items, every answer malformed, max_attempts 3, limit ${FACTOR}× what the batch spends without one, ${REPEAT} run(s)`,
    );
    const rows: string[] = [];
    for (const mode of ['batch', 'realtime']) {
      emulator.reset();
      emulator.setFaults({ malformed_json: { every: 1, once: false } });
      const free = await post('/v1/batches', request(mode, `${mode}-free`));
      const unlimited = await watch(free.id);
      const stats = emulator.stats();
      const paid = (mode === 'batch' ? stats.lines_received : stats.chat_completions) / ITEMS;
      console.log(
        `${mode}, no limit: ${unlimited.batch.status}, ${paid.toFixed(2)} paid answers per item, $${unlimited.batch.cost.spent_usd.toFixed(6)}`,
      );

      const ratios: number[] = [];
      const finals: number[] = [];
      for (let r = 0; r < REPEAT; r++) {
        const body = request(mode, `${mode}-${r}`);
        const limit = Number((unlimited.batch.cost.spent_usd * FACTOR).toFixed(6));
        const created = await post('/v1/batches', { ...body, max_cost_usd: limit, on_budget_exhausted: 'stop' });
        const { batch, maxSpent } = await watch(created.id);
        ratios.push(maxSpent / limit);
        finals.push(batch.cost.spent_usd / limit);
        console.log(
          `${mode}, run ${r + 1}: limit $${limit}, most seen $${maxSpent.toFixed(6)} (${((maxSpent / limit) * 100).toFixed(1)}%), ended ${batch.status} with ${JSON.stringify(batch.counts)}`,
        );
      }
      rows.push(
        `| ${mode} | ${paid.toFixed(2)} | ${(median(ratios) * 100).toFixed(1)}% | ${(Math.max(...ratios) * 100).toFixed(1)}% | ${(median(finals) * 100).toFixed(1)}% |`,
      );
    }
    console.log('');
    console.log(
      '| mode | paid answers per item, no limit | most seen / limit (median) | most seen / limit (worst run) | final / limit (median) |',
    );
    console.log('|---|---|---|---|---|');
    for (const row of rows) console.log(row);
  } finally {
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
