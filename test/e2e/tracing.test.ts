import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bundleWorkflowCode } from '@temporalio/worker';
import { activeTracing } from '../../tracing/tracing.js';
import { WORKFLOW_TRACING_MODULE } from '../../tracing/worker.js';
import { WORKFLOWS_PATH } from '../../workers/worker.js';
import { startOtlpCollector, type ReceivedSpan } from '../helpers/otlp-collector.js';
import { useStack } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';

// The API runs in this process: it reads the endpoint when the stack starts it.
const collector = await startOtlpCollector();
process.env.OTEL_EXPORTER_OTLP_ENDPOINT = collector.url;

/**
 * One trace from the HTTP request to the provider: the API's server span, the client's
 * StartWorkflow, the worker's RunWorkflow spans (batch and chunk, through the workflow sink),
 * RunActivity spans and the provider call spans, all received over OTLP/HTTP by a real collector.
 */
describe('tracing over OTLP', () => {
  const stack = useStack({ processingMs: 200 });
  let bundleDir: string;
  before(async () => {
    // The pre-built bundle as scripts/build-workflow-bundle.ts makes it: interceptors bundled in.
    const { code } = await bundleWorkflowCode({
      workflowsPath: WORKFLOWS_PATH,
      workflowInterceptorModules: [WORKFLOW_TRACING_MODULE],
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    });
    bundleDir = await mkdtemp(join(tmpdir(), 'drover-traced-bundle-'));
    await writeFile(join(bundleDir, 'bundle.js'), code);
  });
  after(async () => {
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    await activeTracing()?.shutdown();
    await collector.close();
    await rm(bundleDir, { recursive: true, force: true });
  });

  /** Runs a batch of 10 items in 2 chunks and checks its trace, end to end. */
  async function assertOneTrace(prefix: string): Promise<void> {
    const mark = collector.spans.length;
    const created = await stack.post('/v1/batches', {
      model: 'gpt-4.1-mini',
      mode: 'batch',
      chunk_size: 5,
      items: Array.from({ length: 10 }, (_, i) => ({ id: `${prefix}${i}`, content: `Say ${i}` })),
    });
    assert.equal(created.status, 202, created.text);
    const done = await stack.waitForBatch(created.body.id, 60_000);
    assert.equal(done.status, 'completed');
    await activeTracing()!.flush();

    const request = await until(() => collector.spans.find((s) => s.service === 'drover-api' && s.name === 'POST /v1/batches'), Boolean, {
      what: 'the API request span',
      timeoutMs: 10_000,
    });
    assert.equal(request!.attributes['http.response.status_code'], 202);
    const inTrace = () => collector.spans.filter((s) => s.traceId === request!.traceId);
    const names = (spans: ReceivedSpan[]) => new Set(spans.map((s) => `${s.service} ${s.name}`));
    // The worker's batch processor sends every 5 s: wait until the collect calls arrived.
    const spans = await until(inTrace, (list) => list.filter((s) => s.name === 'provider openai results').length >= 2, {
      what: 'the worker spans in the request trace',
      timeoutMs: 20_000,
    });
    const seen = names(spans);
    for (const expected of [
      'drover-api StartWorkflow:processBatchWorkflow',
      'drover-worker RunWorkflow:processBatchWorkflow',
      'drover-worker StartChildWorkflow:processChunkWorkflow',
      'drover-worker RunWorkflow:processChunkWorkflow',
      'drover-worker StartActivity:submitChunk',
      'drover-worker RunActivity:submitChunk',
      'drover-worker provider openai createBatch',
      'drover-worker provider openai retrieve',
    ]) {
      assert.ok(seen.has(expected), `${expected} in the trace; saw ${[...seen].sort().join(', ')}`);
    }

    // Parent links, not just a shared id: request → StartWorkflow, and each provider call inside its activity.
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const start = spans.find((s) => s.name === 'StartWorkflow:processBatchWorkflow')!;
    assert.equal(start.parentSpanId, request!.spanId);
    const creates = spans.filter((s) => s.name === 'provider openai createBatch');
    assert.equal(creates.length, 2, 'one create per chunk');
    for (const c of creates) assert.equal(byId.get(c.parentSpanId!)?.name, 'RunActivity:submitChunk');
    // Every span of the trace hangs from the request span.
    for (const s of spans) {
      let at: ReceivedSpan | undefined = s;
      for (let hops = 0; at && at !== request && hops < 50; hops++) at = at.parentSpanId ? byId.get(at.parentSpanId) : undefined;
      assert.equal(at, request, `${s.service} ${s.name} descends from the request span`);
    }
  }

  test('a batch is one trace from POST /v1/batches to the provider calls (pre-built bundle)', async () => {
    await stack.startWorker({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, DROVER_WORKFLOW_BUNDLE: join(bundleDir, 'bundle.js') });
    await assertOneTrace('b');
  });

  test('a realtime batch: each item call is a provider span inside the realtime chunk activity', async () => {
    const mark = collector.spans.length;
    const created = await stack.post('/v1/batches', {
      model: 'gpt-4.1-mini',
      mode: 'realtime',
      items: Array.from({ length: 3 }, (_, i) => ({ id: `r${i}`, content: `Say ${i}` })),
    });
    assert.equal(created.status, 202, created.text);
    assert.equal((await stack.waitForBatch(created.body.id, 60_000)).status, 'completed');
    await activeTracing()!.flush();
    const request = await until(
      () => collector.spans.slice(mark).find((s) => s.service === 'drover-api' && s.name === 'POST /v1/batches'),
      Boolean,
      { what: 'the API request span', timeoutMs: 10_000 },
    );
    const calls = await until(
      () => collector.spans.filter((s) => s.traceId === request!.traceId && s.name === 'provider openai complete'),
      (list) => list.length >= 3,
      { what: 'a provider span per realtime call', timeoutMs: 20_000 },
    );
    const byId = new Map(collector.spans.map((s) => [s.spanId, s]));
    for (const c of calls) assert.match(byId.get(c.parentSpanId!)?.name ?? '', /^RunActivity:/);
    assert.equal(calls.length, 3, 'one span per item');
  });

  test('the same with a worker that bundles its workflows at start (interceptors.workflowModules)', async () => {
    await stack.stopWorkers();
    await stack.startWorker({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, DROVER_WORKFLOW_BUNDLE: '' });
    await assertOneTrace('w');
  });
});
