/**
 * The workload through Drover's API, as a client would run it: submit NDJSON, poll the batch
 * until it ends, then export every result as JSONL to a file. Timed from the POST to the last
 * byte of the export on disk; the worker's and API's peaks are reset first and read after.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { BenchStack } from '../bench-stack.js';
import { resetPeak, TreePeak } from './proc-tree.js';

/** What `python workload.py` prints: the same request every tool sends. */
export interface Workload {
  model: string;
  system_prompt: string;
  max_tokens: number;
  schema: Record<string, unknown>;
  review_template: string;
}

export interface DroverRunOptions {
  items: number;
  workload: Workload;
  chunkSize: number;
  parallel: number;
  timeoutMs: number;
  exportPath: string;
}

export interface DroverRun {
  seconds?: number;
  intakeSeconds?: number;
  exportSeconds?: number;
  timedOut: boolean;
  status: string;
  succeeded: number;
  peakMb: { worker: number; api: number };
}

const TERMINAL = new Set(['completed', 'completed_with_failures', 'failed', 'cancelled', 'timed_out', 'budget_exhausted']);

export function droverNdjson(items: number, template: string): string {
  const lines: string[] = [];
  for (let i = 0; i < items; i++) lines.push(JSON.stringify({ id: `b${i}`, content: template.replace('{i}', String(i)) }));
  return lines.join('\n');
}

export async function runDrover(stack: BenchStack, opts: DroverRunOptions): Promise<DroverRun> {
  const { baseUrl, auth } = stack;
  const { workload } = opts;
  const body = droverNdjson(opts.items, workload.review_template);
  const query = new URLSearchParams({
    model: `openai/${workload.model}`,
    system_prompt: workload.system_prompt,
    // The name and strictness batchata sends; Curator sends the same schema as `output_schema`, not strict.
    response_format: JSON.stringify({ type: 'json_schema', json_schema: { name: 'response', schema: workload.schema, strict: true } }),
    max_output_tokens: String(workload.max_tokens),
    chunk_size: String(opts.chunkSize),
    max_parallel_chunks: String(opts.parallel),
    mode: 'batch',
  });

  const workers = stack.workers.map((w) => w.child.pid!);
  const api = stack.api.child.pid!;
  await Promise.all([...workers, api].map(resetPeak));
  const workerPeak = new TreePeak(workers);
  const apiPeak = new TreePeak([api]);
  const peaks = async () => {
    await Promise.all([workerPeak.sample(), apiPeak.sample()]);
    await Promise.all([workerPeak.stop(), apiPeak.stop()]);
    return { worker: workerPeak.peakKb() / 1024, api: apiPeak.peakKb() / 1024 };
  };

  const t0 = performance.now();
  const deadline = t0 + opts.timeoutMs;
  const res = await fetch(`${baseUrl}/v1/batches?${query}`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/x-ndjson' },
    body,
  });
  const created = (await res.json()) as { id: string };
  if (res.status !== 202) throw new Error(`submit failed (${res.status}): ${JSON.stringify(created)}`);
  const tIntake = performance.now();

  let status = '';
  while (!TERMINAL.has(status)) {
    if (performance.now() > deadline) {
      await fetch(`${baseUrl}/v1/batches/${created.id}/cancel`, { method: 'POST', headers: auth });
      return { timedOut: true, status, succeeded: 0, peakMb: await peaks() };
    }
    await new Promise((r) => setTimeout(r, 250));
    const b = (await (await fetch(`${baseUrl}/v1/batches/${created.id}`, { headers: auth })).json()) as { status: string };
    status = b.status;
  }
  const tDone = performance.now();
  const out = await fetch(`${baseUrl}/v1/batches/${created.id}/results?format=jsonl`, { headers: auth });
  if (!out.ok || !out.body) throw new Error(`export failed: ${out.status} ${await out.text()}`);
  await pipeline(Readable.fromWeb(out.body as WebReadableStream<Uint8Array>), createWriteStream(opts.exportPath));
  const t1 = performance.now();
  const peakMb = await peaks();

  return {
    seconds: (t1 - t0) / 1000,
    intakeSeconds: (tIntake - t0) / 1000,
    exportSeconds: (t1 - tDone) / 1000,
    timedOut: false,
    status,
    succeeded: await countSucceeded(opts.exportPath),
    peakMb,
  };
}

/** Rows of the export that succeeded with a label the schema allows (read after the clock stops). */
async function countSucceeded(path: string): Promise<number> {
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(path) })) {
    if (!line) continue;
    const row = JSON.parse(line) as { status: string; output: { label?: unknown } | null };
    if (row.status === 'succeeded' && (row.output?.label === 'positive' || row.output?.label === 'negative')) n++;
  }
  return n;
}
