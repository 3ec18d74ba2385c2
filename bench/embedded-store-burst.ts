/**
 * The embedded store of `npm run dev` under a burst: B batches submitted through the API at R
 * requests/s, with a real worker, Temporal dev server and emulator, then polled one request at a
 * time (a status read queries the workflow, so a poll storm would only starve the worker). Afterwards the store itself is checked: every batch
 * `completed`, chunk rows equal to chunk_count, one result per item. Any difference is a lost write.
 *
 *   node --import tsx bench/embedded-store-burst.ts --batches 40 --rate 400
 */
import { parseArgs } from 'node:util';
import { TestStack } from '../test/helpers/stack.js';

const { values: args } = parseArgs({
  options: { batches: { type: 'string', default: '40' }, rate: { type: 'string', default: '400' }, items: { type: 'string', default: '30' } },
});
const BATCHES = Number(args.batches);
const RATE = Number(args.rate);
const ITEMS = Number(args.items);
const FINAL = ['completed', 'completed_with_failures', 'failed', 'cancelled', 'timed_out', 'budget_exhausted'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

async function main(): Promise<void> {
  const stack = await TestStack.start({ processingMs: 200, embeddedStore: true });
  try {
    await stack.startWorker();
    const body = { model: 'gpt-4.1-mini', chunk_size: 10, items: Array.from({ length: ITEMS }, (_, i) => ({ id: `i${i}`, content: `item ${i}` })) };
    const latencies: number[] = [];
    const timed = async <T>(fn: () => Promise<T>) => {
      const t = performance.now();
      const out = await fn();
      latencies.push(performance.now() - t);
      return out;
    };

    const t0 = performance.now();
    const submits: Array<Promise<{ status: number; body: any }>> = [];
    for (let i = 0; i < BATCHES; i++) {
      submits.push(timed(() => stack.post('/v1/batches', body)));
      await sleep(1000 / RATE);
    }
    const sentS = (performance.now() - t0) / 1000;
    const created = await Promise.all(submits);
    const rejected = created.filter((c) => c.status !== 202);
    const ids = created.filter((c) => c.status === 202).map((c) => c.body.id as string);

    
    const open = new Set(ids);
    while (open.size > 0 && performance.now() - t0 < 300_000) {
      for (const id of [...open]) {
        const r = await stack.get(`/v1/batches/${id}`);
        if (FINAL.includes(r.body?.status)) open.delete(id);
      }
      await sleep(250);
    }
    const wallS = (performance.now() - t0) / 1000;

    const { rows } = await stack.db.query(
      `SELECT b.status, b.chunk_count, (SELECT count(*)::int FROM chunks c WHERE c.batch_id = b.id) AS chunks,
              (SELECT count(*)::int FROM results r WHERE r.batch_id = b.id) AS results
         FROM batches b WHERE b.id = ANY($1)`,
      [ids],
    );
    const lost = rows.filter((r) => r.status !== 'completed' || r.chunks !== r.chunk_count || r.results !== ITEMS);
    console.log(
      JSON.stringify(
        {
          batches: BATCHES,
          target_rate_per_s: RATE,
          sent_per_s: Math.round(BATCHES / sentS),
          submit_latency_ms: { p50: Math.round(pct(latencies, 50)), p99: Math.round(pct(latencies, 99)), max: Math.round(Math.max(...latencies)) },
          all_final_after_s: Number(wallS.toFixed(1)),
          rejected_submits: rejected.length,
          never_final: open.size,
          batches_in_store: rows.length,
          store_rows_wrong: lost.length,
        },
        null,
        2,
      ),
    );
    if (rejected.length || open.size || lost.length || rows.length !== BATCHES) process.exitCode = 1;
  } finally {
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
