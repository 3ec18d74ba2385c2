/**
 * Drover end to end at scale: N items through the API (NDJSON, streamed), the worker and the
 * emulator with instant processing, on a real Temporal dev server and PostgreSQL.
 *
 *   npm run bench -- --items 1000000 --chunk-size 10000 --parallel 8 --repeat 3
 *
 * The worker and API run as production runs them (compiled, the worker on the pre-built workflow
 * bundle; `--tsx` runs them from source instead, the worker bundling with webpack at start).
 * Prints, per run and as medians: wall time (POST to `completed`), intake (POST to its 202),
 * processing (202 to `completed`), the CPU seconds each process spent, the peak RSS (VmHWM) of the
 * worker and API, and the history sizes of the batch workflow and its chunks. The machine is
 * shared: read medians, and the CPU seconds beside the wall times.
 */
import { readdir, readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { freePort } from '../stack/temporal-server.js';
import { LABEL_FORMAT_QUERY, startBenchStack } from './bench-stack.js';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '100000' },
    'chunk-size': { type: 'string', default: '1000' },
    parallel: { type: 'string', default: '8' },
    repeat: { type: 'string', default: '1' },
    /** From source with tsx (the worker bundles its workflows at start), as before 2026-12-01. */
    tsx: { type: 'boolean', default: false },
    /** dist/ and the workflow bundle are current: do not build them again. */
    'skip-build': { type: 'boolean', default: false },
    /** Write a CPU profile of the worker into this directory (node --cpu-prof). */
    'cpu-prof': { type: 'string' },
    /** Extra worker environment, `KEY=value,KEY=value` (DROVER_MAX_CONCURRENT_ACTIVITIES=40). */
    'worker-env': { type: 'string', default: '' },
    /** How often the client polls the batch's status (ms); processing time is read to this resolution. */
    'status-every': { type: 'string', default: '250' },
    /** The batch's `cache` (use, refresh, off); unset, the server's default (use). */
    cache: { type: 'string' },
  },
});
const ITEMS = Number(args.items);
const CHUNK = Number(args['chunk-size']);
const PARALLEL = Number(args.parallel);
const REPEAT = Number(args.repeat);
const STATUS_EVERY = Number(args['status-every']);

async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** User + system CPU seconds a process has used so far (clock ticks of 1/100 s). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * CPU seconds of the PostgreSQL backends serving `database` now (a backend that has exited is
 * no longer counted: pools keep theirs while busy, so this is close, and never too high).
 */
async function postgresCpuSeconds(database: string): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = await readFile(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.startsWith('postgres:') && cmd.includes(` ${database} `)) out.set(Number(entry), await cpuSeconds(Number(entry)));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** CPU the backends spent between two readings (new backends count from zero). */
function cpuSpent(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, s] of after) total += s - (before.get(pid) ?? 0);
  return total;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The NDJSON body, produced as it is sent: 10,000,000 lines would not fit in one string. */
function ndjsonBody(items: number): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i >= items) return controller.close();
      const end = Math.min(items, i + 10_000);
      let text = '';
      for (; i < end; i++) {
        text += `${JSON.stringify({ id: `b${i}`, content: `Customer review ${i}: arrived on time, works as described, would buy again.` })}\n`;
      }
      controller.enqueue(encoder.encode(text));
    },
  });
}

/** The worker's own gauges from its /metrics: V8 heap (main thread), external memory, Temporal's sticky cache. */
const SAMPLED = {
  heapUsed: 'nodejs_heap_size_used_bytes',
  heapTotal: 'nodejs_heap_size_total_bytes',
  external: 'nodejs_external_memory_bytes',
  stickyCache: 'temporal_sticky_cache_size',
} as const;
type Sampled = Record<keyof typeof SAMPLED, number>;

async function sampleMetrics(url: string): Promise<Partial<Sampled>> {
  const text = await (await fetch(url, { signal: AbortSignal.timeout(2000) })).text();
  const out: Partial<Sampled> = {};
  for (const [k, name] of Object.entries(SAMPLED) as Array<[keyof Sampled, string]>) {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)`, 'm').exec(text);
    if (m) out[k] = Number(m[1]);
  }
  return out;
}

/** A status read that survives a dropped keep-alive socket on a loaded machine. */
async function getJson<T>(url: string, headers: Record<string, string>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      const res = await fetch(url, { headers });
      return (await res.json()) as T;
    } catch (err) {
      if (tries >= 5) throw err;
      await new Promise((r) => setTimeout(r, 200 * tries));
    }
  }
}

interface RunFigures {
  wall: number;
  intake: number;
  processing: number;
  workerCpu: number;
  apiCpu: number;
  benchCpu: number;
  postgresCpu: number;
  postgresCpuIntake: number;
  workerRssEnd: number;
  workerRssMax: number;
  /** Highest of each gauge the worker's /metrics showed during the run (bytes; entries for the cache). */
  metricsMax: Partial<Sampled>;
  batchRuns: number;
  batchEventsMax: number;
  batchEventsTotal: number;
  chunkEventsMax: number;
  load: string;
}

async function main(): Promise<void> {
  const workerEnv = Object.fromEntries(
    args['worker-env']
      .split(',')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  const metricsPort = await freePort();
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  const stack = await startBenchStack({
    name: 'batch',
    processingMs: 0,
    production: !args.tsx,
    skipBuild: args['skip-build'],
    ...(args['cpu-prof'] ? { workerNodeArgs: ['--cpu-prof', `--cpu-prof-dir=${args['cpu-prof']}`] } : {}),
    workerEnv: { DROVER_METRICS_PORT: String(metricsPort), ...workerEnv },
    // Polls start at 250 ms against the instant emulator; real providers keep the defaults (5 s to 60 s).
    apiEnv: { DROVER_POLL_INITIAL_MS: '250', DROVER_POLL_MAX_MS: '2000' },
  });
  // Whatever fails, the servers, processes and the scratch database go with the bench.
  try {
    const { baseUrl, emulator, auth } = stack;
    const [worker] = stack.workers;
    const api = stack.api;
    const workerPid = worker!.child.pid!;
    const apiPid = api.child.pid!;
    const client = new Client({ connection: await Connection.connect({ address: stack.temporalAddress }) });

    const startedRss = await rssMb(workerPid);
    const startedPeak = await peakRssMb(workerPid);
    console.log(
      `bench: ${ITEMS.toLocaleString()} items, chunk_size ${CHUNK}, max_parallel_chunks ${PARALLEL}, ${REPEAT} run(s), ` +
        `${args.tsx ? 'from source (tsx)' : 'compiled, pre-built workflow bundle'}; worker at start ${startedRss.toFixed(0)} MB (peak ${startedPeak.toFixed(0)} MB)`,
    );
    const runs: RunFigures[] = [];
    for (let r = 0; r < REPEAT; r++) {
      emulator.reset();
      const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
      const [w0, a0] = await Promise.all([cpuSeconds(workerPid), cpuSeconds(apiPid)]);
      const b0 = process.cpuUsage();
      let pg0 = await postgresCpuSeconds(stack.databaseName);
      let pgCpu = 0;
      let workerRssMax = 0;
      const metricsMax: Partial<Sampled> = {};
      let ticks = 0;
      const sampler = setInterval(() => {
        rssMb(workerPid)
          .then((mb) => (workerRssMax = Math.max(workerRssMax, mb)))
          .catch(() => {});
        // Read every second, so a backend's CPU is counted up to its last second before it exits.
        postgresCpuSeconds(stack.databaseName)
          .then((now) => {
            pgCpu += cpuSpent(pg0, now);
            pg0 = now;
          })
          .catch(() => {});
        // /metrics every 5 s (a scrape renders Temporal's metrics too: every second cost the worker 1% of its CPU).
        if (++ticks % 5 === 0)
          sampleMetrics(metricsUrl)
            .then((m) => {
              for (const [k, v] of Object.entries(m) as Array<[keyof Sampled, number]>) metricsMax[k] = Math.max(metricsMax[k] ?? 0, v);
            })
            .catch(() => {});
      }, 1000);
      const t0 = performance.now();
      const res = await fetch(
        `${baseUrl}/v1/batches?model=gpt-4.1-mini&chunk_size=${CHUNK}&max_parallel_chunks=${PARALLEL}&response_format=${LABEL_FORMAT_QUERY}` +
          (args.cache ? `&cache=${args.cache}` : ''),
        {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/x-ndjson' },
          body: ndjsonBody(ITEMS),
          duplex: 'half',
        } as RequestInit,
      );
      const text = await res.text();
      // Node's HTTP server answers 408 with no body to a request still arriving after 300 s (requestTimeout).
      if (res.status !== 202)
        throw new Error(`submit failed after ${((performance.now() - t0) / 1000).toFixed(0)} s: ${res.status} ${text}`);
      const created = JSON.parse(text) as { id: string };
      const tIntake = performance.now();
      const pgAtIntake = await postgresCpuSeconds(stack.databaseName);
      pgCpu += cpuSpent(pg0, pgAtIntake);
      pg0 = pgAtIntake;
      const pgIntake = pgCpu;
      let status = '';
      let last = 0;
      while (!['completed', 'completed_with_failures', 'failed', 'cancelled', 'timed_out'].includes(status)) {
        await new Promise((r) => setTimeout(r, STATUS_EVERY));
        const b = await getJson<{ status: string; counts: { succeeded: number } }>(`${baseUrl}/v1/batches/${created.id}`, auth);
        status = b.status;
        if (performance.now() - last > 10_000) {
          last = performance.now();
          process.stdout.write(
            `  … ${b.counts.succeeded.toLocaleString()} / ${ITEMS.toLocaleString()} after ${((last - t0) / 1000).toFixed(0)} s, worker ${(await rssMb(workerPid)).toFixed(0)} MB\n`,
          );
        }
      }
      const t1 = performance.now();
      clearInterval(sampler);
      if (status !== 'completed') throw new Error(`batch ended ${status}`);
      const [w1, a1] = await Promise.all([cpuSeconds(workerPid), cpuSeconds(apiPid)]);
      const b1 = process.cpuUsage(b0);
      pgCpu += cpuSpent(pg0, await postgresCpuSeconds(stack.databaseName));
      const events = { runs: 0, max: 0, total: 0 };
      for await (const wf of client.workflow.list({ query: `WorkflowId = '${created.id}'` })) {
        const n = (await client.workflow.getHandle(created.id, wf.runId).fetchHistory()).events!.length;
        Object.assign(events, { runs: events.runs + 1, max: Math.max(events.max, n), total: events.total + n });
      }
      // Chunk histories: the first few are enough to see their size (every chunk runs the same commands).
      let chunkEventsMax = 0;
      for (let c = 0; c < Math.min(3, Math.ceil(ITEMS / CHUNK)); c++) {
        const h = await client.workflow.getHandle(`${created.id}/chunk-${c}`).fetchHistory();
        chunkEventsMax = Math.max(chunkEventsMax, h.events!.length);
      }
      const f: RunFigures = {
        wall: (t1 - t0) / 1000,
        intake: (tIntake - t0) / 1000,
        processing: (t1 - tIntake) / 1000,
        workerCpu: w1 - w0,
        apiCpu: a1 - a0,
        benchCpu: (b1.user + b1.system) / 1e6,
        postgresCpu: pgCpu,
        postgresCpuIntake: pgIntake,
        workerRssEnd: await rssMb(workerPid),
        workerRssMax,
        metricsMax,
        batchRuns: events.runs,
        batchEventsMax: events.max,
        batchEventsTotal: events.total,
        chunkEventsMax,
        load,
      };
      runs.push(f);
      console.log(
        `run ${r + 1}: ${f.wall.toFixed(1)} s wall = intake ${f.intake.toFixed(1)} s + processing ${f.processing.toFixed(1)} s; ` +
          `${(ITEMS / f.wall).toFixed(0)} items/s; CPU s worker ${f.workerCpu.toFixed(1)}, api ${f.apiCpu.toFixed(1)}, ` +
          `emulator+bench ${f.benchCpu.toFixed(1)}, postgres ${f.postgresCpu.toFixed(1)} (intake ${f.postgresCpuIntake.toFixed(1)}); worker RSS max ${f.workerRssMax.toFixed(0)} MB; ` +
          `batch history ${f.batchRuns} run(s), max ${f.batchEventsMax} events; chunk ≤ ${f.chunkEventsMax} events; load ${f.load}`,
      );
    }

    const [workerPeak, apiPeak] = await Promise.all([peakRssMb(workerPid), peakRssMb(apiPid)]);
    const m = (k: keyof RunFigures) => median(runs.map((x) => x[k] as number));
    const list = (k: keyof RunFigures) => runs.map((x) => (x[k] as number).toFixed(1)).join(', ');
    const lastRun = runs[runs.length - 1]!;
    console.log('');
    console.log(`items                      ${ITEMS}`);
    console.log(`chunks                     ${Math.ceil(ITEMS / CHUNK)}`);
    console.log(`wall time (median)         ${m('wall').toFixed(1)} s  (${list('wall')})`);
    console.log(`intake time (median)       ${m('intake').toFixed(1)} s  (${list('intake')})`);
    console.log(`processing time (median)   ${m('processing').toFixed(1)} s  (${list('processing')})`);
    console.log(
      `throughput (median)        ${(ITEMS / m('wall')).toFixed(0)} items/s end to end, ${(ITEMS / m('processing')).toFixed(0)} processing`,
    );
    console.log(`CPU s worker (median)      ${m('workerCpu').toFixed(1)}  (${list('workerCpu')})`);
    console.log(`CPU s api (median)         ${m('apiCpu').toFixed(1)}`);
    console.log(`CPU s emulator+bench       ${m('benchCpu').toFixed(1)}`);
    console.log(
      `CPU s postgres (this db)   ${m('postgresCpu').toFixed(1)}  (${list('postgresCpu')}), of which intake ${m('postgresCpuIntake').toFixed(1)}`,
    );
    console.log(`peak RSS worker            ${workerPeak.toFixed(0)} MB (at start ${startedPeak.toFixed(0)} MB)`);
    const mb = (k: keyof Sampled) => `${((lastRun.metricsMax[k] ?? NaN) / 2 ** 20).toFixed(0)} MB`;
    console.log(
      `worker heap (max seen)     used ${mb('heapUsed')}, total ${mb('heapTotal')}, external ${mb('external')} (main thread, /metrics)`,
    );
    console.log(`sticky cache (max seen)    ${lastRun.metricsMax.stickyCache ?? '?'} workflows`);
    console.log(`peak RSS api               ${apiPeak.toFixed(0)} MB`);
    console.log(`batch workflow runs        ${lastRun.batchRuns}`);
    console.log(`events per run (max)       ${lastRun.batchEventsMax}`);
    console.log(`events all runs (total)    ${lastRun.batchEventsTotal}`);
    console.log(`chunk history (max)        ${lastRun.chunkEventsMax} events`);
    console.log(`provider batches           ${emulator.stats().batches_created}`);
    console.log(`load average (1, 5, 15)    ${runs.map((x) => x.load).join(' | ')}`);

    await client.connection.close();
  } finally {
    await stack.stop();
    if (args['cpu-prof'])
      console.log(
        `worker CPU profile: ${args['cpu-prof']}/${(await readdir(args['cpu-prof']).catch(() => ['(none written)'])).join(', ')}`,
      );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
