/**
 * Realtime mode against a provider that enforces a fixed requests-per-minute limit (the
 * emulator's sliding 60-second window), with Drover's shared limiter set to the same figure and
 * two workers drawing on it together.
 *
 *   npm run bench:realtime -- --rpm 1200 --seconds 60 --workers 2
 *
 * Prints sustained throughput as a fraction of the limit (goal ≥ 0.95) and the items that failed
 * because of rate limiting (goal 0).
 */
import { parseArgs } from 'node:util';
import { startBenchStack } from './bench-stack.js';

const { values: args } = parseArgs({
  options: {
    rpm: { type: 'string', default: '1200' },
    seconds: { type: 'string', default: '60' },
    workers: { type: 'string', default: '2' },
  },
});
const RPM = Number(args.rpm);
const ITEMS = Math.round((RPM / 60) * Number(args.seconds));
const WORKERS = Number(args.workers);

async function main(): Promise<void> {
  const stack = await startBenchStack({
    name: 'rt',
    processingMs: 0,
    workers: WORKERS,
    workerEnv: { DROVER_RATE_LIMITS: JSON.stringify({ 'openai/gpt-4.1-mini': { rpm: RPM } }), DROVER_REALTIME_CONCURRENCY: '16' },
    apiEnv: { DROVER_POLL_INITIAL_MS: '250', DROVER_POLL_MAX_MS: '1000' },
  });
  // Whatever fails, the servers, processes and the scratch database go with the bench.
  try {
    const { emulator, baseUrl: base, auth } = stack;
    emulator.setFaults({ rate_limit: { rpm: RPM } });

    console.log(
      `bench: ${ITEMS} items in realtime mode, provider limit ${RPM} RPM (sliding 60 s), Drover limit ${RPM} RPM shared by ${WORKERS} workers`,
    );
    const body = {
      model: 'gpt-4.1-mini',
      mode: 'realtime',
      items: Array.from({ length: ITEMS }, (_, i) => ({ id: `r${i}`, content: `Short ticket ${i}: where is my parcel?` })),
      // Several chunks so both workers carry load.
      chunk_size: Math.ceil(ITEMS / (WORKERS * 2)),
      max_parallel_chunks: WORKERS * 2,
    };
    // Sample the provider's accepted-call counter to time the steady state: from the first call
    // to the last, leaving out batch start-up and the final status poll.
    let firstCall = 0;
    let lastCall = 0;
    const sampler = setInterval(() => {
      const n = emulator.stats().realtime_accepted;
      if (n > 0 && !firstCall) firstCall = performance.now();
      if (n >= ITEMS && !lastCall) lastCall = performance.now();
    }, 10);
    const t0 = performance.now();
    const created = (await (
      await fetch(`${base}/v1/batches`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    ).json()) as { id: string };
    let status = '';
    let counts = { succeeded: 0, failed: 0 };
    while (!['completed', 'completed_with_failures', 'failed'].includes(status)) {
      await new Promise((r) => setTimeout(r, 250));
      const b = (await (await fetch(`${base}/v1/batches/${created.id}`, { headers: auth })).json()) as {
        status: string;
        counts: typeof counts;
      };
      status = b.status;
      counts = b.counts;
    }
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    const stats = emulator.stats();
    // ITEMS calls spaced 60/RPM seconds apart span (ITEMS − 1) intervals.
    const steadySeconds = (lastCall - firstCall) / 1000;
    const sustained = (ITEMS - 1) / steadySeconds / (RPM / 60);
    const failedByRateLimit = Number(
      (
        (await fetch(`${base}/v1/batches/${created.id}/results?status=failed&limit=1000`, { headers: auth }).then((r) => r.json())) as {
          data: Array<{ error: { code: string } }>;
        }
      ).data.filter((r) => /rate/i.test(r.error.code)).length,
    );
    console.log('');
    console.log(`items                          ${ITEMS}`);
    console.log(`status                         ${status} (${counts.succeeded} succeeded, ${counts.failed} failed)`);
    console.log(`wall time                      ${seconds.toFixed(1)} s`);
    console.log(`throughput, submit to done     ${((ITEMS / seconds) * 60).toFixed(0)} requests/min`);
    console.log(`throughput, first to last call ${(((ITEMS - 1) / steadySeconds) * 60).toFixed(0)} requests/min`);
    console.log(`sustained / limit              ${sustained.toFixed(3)}`);
    console.log(`429s answered by the provider  ${stats.faults_injected.rate_limited}`);
    console.log(`items failed by rate limiting  ${failedByRateLimit}`);
  } finally {
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
