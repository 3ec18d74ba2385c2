/**
 * What the result cache and the providers' prompt caches save on a batch sent twice. Each run
 * submits a batch (batch API, JSON schema, a system prompt long enough for the prompt caches),
 * waits for it, then submits the very same request again. Items differ between runs, so every
 * run starts with nothing remembered.
 *
 *   node --import tsx bench/repeat-batch.ts --items 1000 --repeat 3
 *
 * Reported per run: the first batch's spend and what prompt caching took off it, the second
 * batch's spend, its cache hits and saving, the requests that reached the emulator for each, and
 * both wall times (POST to `completed`, polled every 200 ms).
 */
import { parseArgs } from 'node:util';
import { startBenchStack } from './bench-stack.js';

const { values: args } = parseArgs({
  options: { items: { type: 'string', default: '1000' }, repeat: { type: 'string', default: '3' } },
});
const ITEMS = Number(args.items);
const REPEAT = Number(args.repeat);
const SYSTEM = `Label the support ticket. ${'Weigh every clue the ticket gives before you answer, and prefer the most specific label. '.repeat(60)}`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Batch {
  id: string;
  status: string;
  cost: { spent_usd: number; cache_saved_usd: number; prompt_cache_saved_usd: number };
  cache: { hits: number };
  usage: { cached_input_tokens: number };
}

async function main(): Promise<void> {
  const stack = await startBenchStack({
    name: 'repeat-batch',
    processingMs: 200,
    apiEnv: { DROVER_POLL_INITIAL_MS: '200', DROVER_POLL_MAX_MS: '500', DROVER_RESULT_CACHE: 'use' },
  });
  try {
    const { baseUrl, emulator, auth } = stack;
    const run = async (body: unknown): Promise<{ batch: Batch; ms: number; sent: number }> => {
      const sentBefore = emulator.stats().lines_received;
      const t0 = performance.now();
      const res = await fetch(`${baseUrl}/v1/batches`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const created = (await res.json()) as Batch;
      if (res.status !== 202) throw new Error(JSON.stringify(created));
      for (;;) {
        const b = (await (await fetch(`${baseUrl}/v1/batches/${created.id}`, { headers: auth })).json()) as Batch;
        if (b.status === 'completed') return { batch: b, ms: performance.now() - t0, sent: emulator.stats().lines_received - sentBefore };
        if (['failed', 'cancelled', 'completed_with_failures', 'timed_out', 'budget_exhausted'].includes(b.status))
          throw new Error(b.status);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const rows: string[] = [];
    const firstMs: number[] = [];
    const secondMs: number[] = [];
    for (let r = 0; r < REPEAT; r++) {
      const body = {
        model: 'gpt-4.1-mini',
        mode: 'batch',
        system_prompt: SYSTEM,
        chunk_size: 250,
        response_format: {
          type: 'json_schema',
          json_schema: {
            name: 'label',
            strict: true,
            schema: {
              type: 'object',
              properties: { label: { type: 'string', enum: ['late', 'damaged', 'fine'] } },
              required: ['label'],
              additionalProperties: false,
            },
          },
        },
        items: Array.from({ length: ITEMS }, (_, i) => ({ id: `i${i}`, content: `Run ${r}, ticket ${i}: the parcel arrived late.` })),
      };
      const first = await run(body);
      const second = await run(body);
      firstMs.push(first.ms);
      secondMs.push(second.ms);
      rows.push(
        `| ${r + 1} | $${first.batch.cost.spent_usd} (prompt cache saved $${first.batch.cost.prompt_cache_saved_usd}) | ${first.sent} | ${(first.ms / 1000).toFixed(1)} s | $${second.batch.cost.spent_usd} | ${second.batch.cache.hits} | $${second.batch.cost.cache_saved_usd} | ${second.sent} | ${(second.ms / 1000).toFixed(1)} s |`,
      );
      console.log(rows[rows.length - 1]);
    }
    console.log('');
    console.log(`${ITEMS} items, gpt-4.1-mini through the batch API, ${REPEAT} runs`);
    console.log(
      '| run | first: spent | first: requests sent | first: wall | second: spent | second: hits | second: saved | second: requests sent | second: wall |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const row of rows) console.log(row);
    console.log(`median wall: first ${(median(firstMs) / 1000).toFixed(1)} s, second ${(median(secondMs) / 1000).toFixed(1)} s`);
  } finally {
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
