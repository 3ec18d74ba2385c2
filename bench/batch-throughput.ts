/**
 * Drover end to end at scale: N items through the API (NDJSON, streamed), the worker and the
 * emulator with instant processing, on a real Temporal dev server and PostgreSQL.
 *
 *   npm run bench -- --items 100000 --chunk-size 1000 --parallel 8 --repeat 3
 *
 * Prints wall time, items per second, the peak RSS (VmHWM) of the worker and API processes and
 * the event counts of the batch workflow's runs. The machine is shared: read medians.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { startBenchStack } from './bench-stack.js';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '100000' },
    'chunk-size': { type: 'string', default: '1000' },
    parallel: { type: 'string', default: '8' },
    repeat: { type: 'string', default: '1' },
  },
});
const ITEMS = Number(args.items);
const CHUNK = Number(args['chunk-size']);
const PARALLEL = Number(args.parallel);
const REPEAT = Number(args.repeat);

async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const stack = await startBenchStack({
    name: 'batch',
    processingMs: 0,
    apiEnv: { DROVER_POLL_INITIAL_MS: '250', DROVER_POLL_MAX_MS: '2000' },
  });
  // Whatever fails, the servers, processes and the scratch database go with the bench.
  try {
    const { baseUrl, emulator, auth } = stack;
    const [worker] = stack.workers;
    const api = stack.api;
    const client = new Client({ connection: await Connection.connect({ address: stack.temporalAddress }) });
    const ndjson = Array.from({ length: ITEMS }, (_, i) =>
      JSON.stringify({ id: `b${i}`, content: `Customer review ${i}: arrived on time, works as described, would buy again.` }),
    ).join('\n');
    const schema = encodeURIComponent(
      JSON.stringify({
        type: 'json_schema',
        json_schema: {
          name: 'label',
          schema: {
            type: 'object',
            properties: { label: { type: 'string', enum: ['positive', 'negative'] } },
            required: ['label'],
            additionalProperties: false,
          },
        },
      }),
    );

    console.log(`bench: ${ITEMS.toLocaleString()} items, chunk_size ${CHUNK}, max_parallel_chunks ${PARALLEL}, ${REPEAT} run(s)`);
    const walls: number[] = [];
    const intakes: number[] = [];
    let events = { runs: 0, max: 0, total: 0 };
    for (let r = 0; r < REPEAT; r++) {
      emulator.reset();
      const t0 = performance.now();
      const res = await fetch(
        `${baseUrl}/v1/batches?model=gpt-4.1-mini&chunk_size=${CHUNK}&max_parallel_chunks=${PARALLEL}&response_format=${schema}`,
        {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/x-ndjson' },
          body: ndjson,
        },
      );
      const created = (await res.json()) as { id: string };
      if (res.status !== 202) throw new Error(`submit failed: ${JSON.stringify(created)}`);
      const tIntake = performance.now();
      let status = '';
      let last = 0;
      while (!['completed', 'completed_with_failures', 'failed'].includes(status)) {
        await new Promise((r) => setTimeout(r, 250));
        const b = (await (await fetch(`${baseUrl}/v1/batches/${created.id}`, { headers: auth })).json()) as {
          status: string;
          counts: { succeeded: number };
        };
        status = b.status;
        if (performance.now() - last > 10_000) {
          last = performance.now();
          process.stdout.write(
            `  … ${b.counts.succeeded.toLocaleString()} / ${ITEMS.toLocaleString()} after ${((last - t0) / 1000).toFixed(0)} s\n`,
          );
        }
      }
      const t1 = performance.now();
      if (status !== 'completed') throw new Error(`batch ended ${status}`);
      walls.push((t1 - t0) / 1000);
      intakes.push((tIntake - t0) / 1000);
      events = { runs: 0, max: 0, total: 0 };
      for await (const wf of client.workflow.list({ query: `WorkflowId = '${created.id}'` })) {
        const n = (await client.workflow.getHandle(created.id, wf.runId).fetchHistory()).events!.length;
        events = { runs: events.runs + 1, max: Math.max(events.max, n), total: events.total + n };
      }
      console.log(
        `run ${r + 1}: ${walls[r]!.toFixed(1)} s wall (intake ${intakes[r]!.toFixed(1)} s), ${(ITEMS / walls[r]!).toFixed(0)} items/s, batch history ${events.runs} run(s), max ${events.max} events`,
      );
    }

    const [workerRss, apiRss] = await Promise.all([peakRssMb(worker!.child.pid!), peakRssMb(api.child.pid!)]);
    const wall = median(walls);
    console.log('');
    console.log(`items                    ${ITEMS}`);
    console.log(`chunks                   ${Math.ceil(ITEMS / CHUNK)}`);
    console.log(`wall time (median)       ${wall.toFixed(1)} s`);
    console.log(`intake time (median)     ${median(intakes).toFixed(1)} s`);
    console.log(`throughput (median)      ${(ITEMS / wall).toFixed(0)} items/s`);
    console.log(`peak RSS worker          ${workerRss.toFixed(0)} MB`);
    console.log(`peak RSS api             ${apiRss.toFixed(0)} MB`);
    console.log(`batch workflow runs      ${events.runs}`);
    console.log(`events per run (max)     ${events.max}`);
    console.log(`events all runs (total)  ${events.total}`);
    console.log(`provider batches         ${emulator.stats().batches_created}`);

    await client.connection.close();
  } finally {
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
