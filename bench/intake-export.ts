/**
 * The API's two bulk paths at scale: an NDJSON intake of N items (POST /v1/batches, streamed)
 * and the export of N results as JSONL and as CSV (GET /v1/batches/:id/results?format=…).
 *
 *   npm run bench:intake-export -- --items 1000000 --repeat 3
 *
 * No worker runs: the batch is stored and its workflow waits, and the results are written
 * straight into PostgreSQL from the stored items (one SQL statement, untimed), so the export
 * measures the API alone. Prints items/s at intake, rows/s of each export and the API's peak
 * RSS (VmHWM) over the whole run. `--profile DIR` runs the API under `node --cpu-prof`.
 * The machine is shared: read medians.
 */
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { createDb } from '../store/db.js';
import { LABEL_FORMAT_QUERY, startBenchStack } from './bench-stack.js';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '1000000' },
    repeat: { type: 'string', default: '1' },
    profile: { type: 'string' },
  },
});
const ITEMS = Number(args.items);
const REPEAT = Number(args.repeat);

async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The NDJSON body, generated as it is sent (about 1 MB at a time), as a client streaming a file would. */
function ndjsonBody(items: number): Readable {
  let i = 0;
  return new Readable({
    read() {
      if (i >= items) {
        this.push(null);
        return;
      }
      const lines: string[] = [];
      for (const end = Math.min(items, i + 10_000); i < end; i++)
        lines.push(JSON.stringify({ id: `b${i}`, content: `Customer review ${i}: arrived on time, works as described, would buy again.` }));
      this.push(lines.join('\n') + '\n');
    },
  });
}

/** Reads a streamed export to its end; returns its lines and seconds. */
async function timedExport(url: string, headers: Record<string, string>): Promise<{ lines: number; seconds: number; first: string }> {
  const t0 = performance.now();
  const res = await fetch(url, { headers });
  if (res.status !== 200) throw new Error(`export failed: ${res.status} ${await res.text()}`);
  let lines = 0;
  let first = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (first.length < 200) first += buf.toString('utf8', 0, Math.min(buf.length, 200));
    for (let at = buf.indexOf(10); at !== -1; at = buf.indexOf(10, at + 1)) lines++;
  }
  return { lines, seconds: (performance.now() - t0) / 1000, first };
}

async function main(): Promise<void> {
  const apiEnv: Record<string, string> = {};
  if (args.profile) apiEnv.NODE_OPTIONS = `--cpu-prof --cpu-prof-dir=${args.profile}`;
  const stack = await startBenchStack({ name: 'intake-export', processingMs: 0, workers: 0, apiEnv });
  const db = createDb(stack.databaseUrl, 2);
  // Whatever fails, the servers, processes and the scratch database go with the bench.
  try {
    const { baseUrl, auth } = stack;
    console.log(`bench: ${ITEMS.toLocaleString()} items, ${REPEAT} run(s)`);
    const intakes: number[] = [];
    const jsonl: number[] = [];
    const csv: number[] = [];
    for (let r = 0; r < REPEAT; r++) {
      const t0 = performance.now();
      const res = await fetch(`${baseUrl}/v1/batches?model=gpt-4.1-mini&chunk_size=10000&response_format=${LABEL_FORMAT_QUERY}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/x-ndjson' },
        body: ndjsonBody(ITEMS) as unknown as ReadableStream,
        duplex: 'half',
      } as RequestInit);
      const created = (await res.json()) as { id: string; counts: { total: number } };
      if (res.status !== 202) throw new Error(`submit failed: ${JSON.stringify(created)}`);
      const intake = (performance.now() - t0) / 1000;
      if (created.counts.total !== ITEMS) throw new Error(`stored ${created.counts.total} items, sent ${ITEMS}`);
      intakes.push(intake);

      // What a worker would have written: one outcome per item, untimed.
      await db.query(
        `INSERT INTO results (tenant_id, batch_id, seq, status, output, usage, cost_usd, attempt, path)
         SELECT tenant_id, batch_id, seq, 'succeeded', '{"label":"positive"}',
           '{"input_tokens":31,"cached_input_tokens":0,"output_tokens":6,"reasoning_tokens":0}', 0.0000124, 1, 'batch'
         FROM items WHERE batch_id = $1`,
        [created.id],
      );

      const url = `${baseUrl}/v1/batches/${created.id}/results`;
      const j = await timedExport(`${url}?format=jsonl`, auth);
      if (j.lines !== ITEMS) throw new Error(`JSONL export had ${j.lines} lines, not ${ITEMS}`);
      const c = await timedExport(`${url}?format=csv`, auth);
      if (c.lines !== ITEMS + 1) throw new Error(`CSV export had ${c.lines} lines, not ${ITEMS + 1}`);
      jsonl.push(j.seconds);
      csv.push(c.seconds);
      console.log(
        `run ${r + 1}: intake ${intake.toFixed(1)} s (${(ITEMS / intake).toFixed(0)} items/s), ` +
          `JSONL ${j.seconds.toFixed(1)} s (${(ITEMS / j.seconds).toFixed(0)} rows/s), CSV ${c.seconds.toFixed(1)} s (${(ITEMS / c.seconds).toFixed(0)} rows/s)`,
      );
      if (r === 0) console.log(`  first JSONL line: ${j.first.split('\n')[0]}\n  CSV header: ${c.first.split('\r\n')[0]}`);
    }
    const apiRss = await peakRssMb(stack.api.child.pid!);
    console.log('');
    console.log(`items                      ${ITEMS}`);
    console.log(`intake (median)            ${median(intakes).toFixed(2)} s   ${(ITEMS / median(intakes)).toFixed(0)} items/s`);
    console.log(`export JSONL (median)      ${median(jsonl).toFixed(2)} s   ${(ITEMS / median(jsonl)).toFixed(0)} rows/s`);
    console.log(`export CSV (median)        ${median(csv).toFixed(2)} s   ${(ITEMS / median(csv)).toFixed(0)} rows/s`);
    console.log(`peak RSS api (VmHWM)       ${apiRss.toFixed(0)} MB`);
  } finally {
    await db.end();
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
