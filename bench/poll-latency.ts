/**
 * GET /v1/batches/:id under many pollers while a large batch runs: the latency each poller
 * sees, as a client dashboard polling every few hundred milliseconds would.
 *
 *   npm run bench:poll -- --items 200000 --pollers 100 --interval-ms 250 --seconds 40 --repeat 3
 *
 * The batch goes through the real worker and emulator (instant processing) on a Temporal dev
 * server and PostgreSQL; the pollers start once the submit is answered and stop after
 * `--seconds` or when the batch ends, whichever is first. Prints p50, p99 and the longest
 * latency, the requests made, and how far the batch got. The machine is shared: read medians.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBenchStack } from './bench-stack.js';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '200000' },
    pollers: { type: 'string', default: '100' },
    'interval-ms': { type: 'string', default: '250' },
    seconds: { type: 'string', default: '40' },
    repeat: { type: 'string', default: '1' },
    /** Runs the API under `node --cpu-prof`, writing its profile to this directory. */
    profile: { type: 'string' },
    // Internal: the poller process's target.
    'poll-url': { type: 'string' },
    'poll-auth': { type: 'string' },
  },
});
const ITEMS = Number(args.items);
const POLLERS = Number(args.pollers);
const INTERVAL = Number(args['interval-ms']);
const SECONDS = Number(args.seconds);
const REPEAT = Number(args.repeat);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  p50: number;
  p99: number;
  max: number;
  requests: number;
  errors: number;
  done: number;
  status: string;
}

/**
 * The pollers, in a process of their own: the emulator shares the bench's process, and while
 * it parses a chunk's upload it would delay the pollers' own reads and inflate what they time.
 */
async function pollers(url: string, authorization: string): Promise<Omit<Run, 'p50' | 'p99' | 'max'> & { latencies: number[] }> {
  const latencies: number[] = [];
  let errors = 0;
  let status = 'queued';
  let done = 0;
  const until = performance.now() + SECONDS * 1000;
  const ended = () => ['completed', 'completed_with_failures', 'failed', 'cancelled'].includes(status);
  // Pollers start spread over one interval, as independent clients would.
  await Promise.all(
    Array.from({ length: POLLERS }, async (_, p) => {
      await sleep((INTERVAL * p) / POLLERS);
      while (performance.now() < until && !ended()) {
        const t0 = performance.now();
        try {
          const answer = await fetch(url, { headers: { authorization } });
          const body = (await answer.json()) as { status: string; counts: { succeeded: number; failed: number } };
          if (answer.status !== 200) errors++;
          else {
            status = body.status;
            done = Math.max(done, body.counts.succeeded + body.counts.failed);
          }
        } catch {
          errors++;
        }
        latencies.push(performance.now() - t0);
        await sleep(INTERVAL);
      }
    }),
  );
  return { latencies, requests: latencies.length, errors, status, done };
}

function runPollers(url: string, authorization: string): Promise<Awaited<ReturnType<typeof pollers>>> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), ...process.argv.slice(2), '--poll-url', url, '--poll-auth', authorization],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`pollers exited with ${code}`))));
  });
}

async function main(): Promise<void> {
  const stack = await startBenchStack({
    name: 'poll',
    processingMs: 0,
    apiEnv: {
      DROVER_POLL_INITIAL_MS: '250',
      DROVER_POLL_MAX_MS: '2000',
      ...(args.profile ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${args.profile}` } : {}),
    },
  });
  try {
    const { baseUrl, auth } = stack;
    const ndjson = Array.from({ length: ITEMS }, (_, i) =>
      JSON.stringify({ id: `p${i}`, content: `Customer review ${i}: arrived on time, works as described, would buy again.` }),
    ).join('\n');
    console.log(`bench: ${ITEMS.toLocaleString()} items, ${POLLERS} pollers every ${INTERVAL} ms for up to ${SECONDS} s, ${REPEAT} run(s)`);
    const runs: Run[] = [];
    for (let r = 0; r < REPEAT; r++) {
      stack.emulator.reset();
      const res = await fetch(`${baseUrl}/v1/batches?model=gpt-4.1-mini&chunk_size=1000&max_parallel_chunks=8`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/x-ndjson' },
        body: ndjson,
      });
      const created = (await res.json()) as { id: string };
      if (res.status !== 202) throw new Error(`submit failed: ${JSON.stringify(created)}`);
      const url = `${baseUrl}/v1/batches/${created.id}`;
      const logFrom = stack.api.output().length;
      const polled = await runPollers(url, auth.authorization);
      // The API's own timing of each GET (its request log), to tell time in the API from time queued before it.
      const served = stack.api
        .output()
        .slice(logFrom)
        .split('\n')
        .filter((l) => l.includes('"request"') && l.includes(`/v1/batches/${created.id}"`) && l.includes('"GET"'))
        .map((l) => (JSON.parse(l) as { ms: number }).ms)
        .sort((a, b) => a - b);
      if (served.length > 0)
        console.log(
          `  in the API: p50 ${quantile(served, 0.5).toFixed(1)} ms, p99 ${quantile(served, 0.99).toFixed(1)} ms (${served.length} requests logged)`,
        );
      const sorted = polled.latencies.sort((a, b) => a - b);
      const run = { ...polled, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1]! };
      runs.push(run);
      console.log(
        `run ${r + 1}: p50 ${run.p50.toFixed(1)} ms, p99 ${run.p99.toFixed(1)} ms, max ${run.max.toFixed(0)} ms, ` +
          `${run.requests} requests (${run.errors} failed), batch ${run.status} with ${run.done.toLocaleString()} / ${ITEMS.toLocaleString()} done`,
      );
      // The next run starts on an idle worker.
      let status = run.status;
      const ended = () => ['completed', 'completed_with_failures', 'failed', 'cancelled'].includes(status);
      if (!ended()) await fetch(`${url}/cancel`, { method: 'POST', headers: auth });
      for (let i = 0; i < 600 && !ended(); i++) {
        await sleep(500);
        status = ((await (await fetch(url, { headers: auth })).json()) as { status: string }).status;
      }
    }
    console.log('');
    console.log(`pollers                  ${POLLERS} every ${INTERVAL} ms`);
    console.log(`p50 (median of runs)     ${median(runs.map((r) => r.p50)).toFixed(1)} ms`);
    console.log(
      `p99 (median of runs)     ${median(runs.map((r) => r.p99)).toFixed(1)} ms   (runs: ${runs.map((r) => r.p99.toFixed(0)).join(', ')})`,
    );
    console.log(`max (median of runs)     ${median(runs.map((r) => r.max)).toFixed(0)} ms`);
    console.log(`requests per run         ${median(runs.map((r) => r.requests))}`);
  } finally {
    await stack.stop();
  }
}

if (args['poll-url']) {
  pollers(args['poll-url'], args['poll-auth']!).then(
    (result) => process.stdout.write(JSON.stringify(result)),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
