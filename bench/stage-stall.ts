/**
 * How long staging one large chunk blocks the worker's event loop. One chunk of N items (about
 * 2 KB of prompt each: 50,000 items make a ~100 MB input) goes through `submitChunk` under
 * MockActivityEnvironment, against the provider emulator in a process of its own (so its parsing
 * of the upload does not count), while `perf_hooks.monitorEventLoopDelay` watches this process.
 *
 *   node --import tsx bench/stage-stall.ts --items 50000 --provider openai
 *
 * Prints the longest event-loop stall, the longest gap between two heartbeats (the activity's
 * heartbeat timeout is 20 s), the wall time of the submit and the peak RSS of this process.
 */
import { readFile } from 'node:fs/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import { pino } from 'pino';
import { createActivities } from '../activities/index.js';
import { storeJsonBatch } from '../api/intake/json-batch.js';
import { AnthropicBatchProvider, createAnthropicClient } from '../providers/anthropic.js';
import { createGeminiClient, GeminiBatchProvider } from '../providers/gemini.js';
import { createOpenAIClient, OpenAIBatchProvider } from '../providers/openai.js';
import type { Providers } from '../providers/types.js';
import { spawnNode } from '../stack/processes.js';
import { createScratchDatabase } from '../stack/scratch-database.js';
import { freePort, stopChild } from '../stack/temporal-server.js';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '50000' },
    'item-bytes': { type: 'string', default: '2000' },
    provider: { type: 'string', default: 'openai' },
  },
});
const ITEMS = Number(args.items);
const ITEM_BYTES = Number(args['item-bytes']);
const PROVIDER = args.provider as 'openai' | 'anthropic' | 'gemini';
const MODELS = { openai: 'gpt-4.1-mini', anthropic: 'claude-sonnet-4-5', gemini: 'gemini-2.5-flash' };

async function peakRssMb(): Promise<number> {
  const status = await readFile('/proc/self/status', 'utf8');
  return Math.round(Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024);
}

async function main(): Promise<void> {
  const port = await freePort();
  const database = await createScratchDatabase('drover_bench');
  const emulator = await spawnNode('emulator/main.ts', { PORT: String(port), EMULATOR_PROCESSING_MS: '600000' }, 'emulator listening');
  const url = `http://127.0.0.1:${port}`;
  try {
    const providers: Providers = { batch: {}, realtime: {} };
    if (PROVIDER === 'openai')
      providers.batch.openai = new OpenAIBatchProvider(createOpenAIClient({ apiKey: 'bench', baseURL: `${url}/v1` }));
    if (PROVIDER === 'anthropic')
      providers.batch.anthropic = new AnthropicBatchProvider(createAnthropicClient({ apiKey: 'bench', baseURL: url }));
    if (PROVIDER === 'gemini') providers.batch.gemini = new GeminiBatchProvider(createGeminiClient({ apiKey: 'bench', baseUrl: url }));
    const acts = createActivities({ db: database.db, providers });
    const filler = 'lorem ipsum dolor sit amet '.repeat(Math.ceil(ITEM_BYTES / 27)).slice(0, ITEM_BYTES);
    const stored = await storeJsonBatch(
      database.db,
      'default',
      {
        model: MODELS[PROVIDER],
        mode: 'batch',
        chunk_size: ITEMS,
        items: Array.from({ length: ITEMS }, (_, i) => ({ id: `i${i}`, content: `${i} ${filler}` })),
      },
      { priceOverrides: {} },
    );
    if (!stored.created) throw new Error('the batch was not stored');
    const batchId = stored.batch.id;
    await new MockActivityEnvironment().run(acts.planBatch, { batchId });

    const env = new MockActivityEnvironment();
    const beats: number[] = [];
    env.on('heartbeat', () => beats.push(performance.now()));
    const histogram = monitorEventLoopDelay({ resolution: 10 });
    const started = performance.now();
    histogram.enable();
    const result = (await env.run(acts.submitChunk, { batchId, chunkIndex: 0, attempt: 1 })) as { providerBatchId: string | null };
    histogram.disable();
    const ended = performance.now();
    let maxGap = 0;
    for (let i = 1; i < beats.length; i++) maxGap = Math.max(maxGap, beats[i]! - beats[i - 1]!);
    maxGap = Math.max(maxGap, ended - (beats.at(-1) ?? started));
    console.log(
      JSON.stringify({
        provider: PROVIDER,
        items: ITEMS,
        provider_batch: result.providerBatchId,
        submit_s: +((ended - started) / 1000).toFixed(2),
        max_stall_ms: Math.round(histogram.max / 1e6),
        p99_stall_ms: Math.round(histogram.percentile(99) / 1e6),
        heartbeats: beats.length,
        max_heartbeat_gap_ms: Math.round(maxGap),
        peak_rss_mb: await peakRssMb(),
      }),
    );
  } finally {
    await stopChild(emulator.child, 10_000);
    await database.drop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    pino().error(err);
    process.exit(1);
  },
);
