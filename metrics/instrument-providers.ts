import type { BatchProvider, Providers, RealtimeProvider } from '../providers/types.js';
import type { DroverMetrics } from './drover-metrics.js';

type Classify = Pick<BatchProvider, 'classifyError'>;

const BATCH_CALLS = {
  stageInput: 'stage_input',
  createBatch: 'create_batch',
  findBatch: 'find_batch',
  retrieve: 'retrieve',
  cancel: 'cancel',
} as const;
const BATCH_STREAMS = { results: 'results', listBatches: 'list_batches' } as const;

/**
 * The same providers, each SDK call timed into `drover_provider_request_duration_seconds` and
 * each failure counted in `drover_provider_errors_total` by its type. Wrapping here, at the one
 * place every provider call passes, leaves the activities as they are. A stream (results, the
 * list) is timed from the call to its last line.
 */
export function instrumentProviders(providers: Providers, metrics: DroverMetrics): Providers {
  const batch: Providers['batch'] = {};
  const realtime: Providers['realtime'] = {};
  for (const [name, p] of Object.entries(providers.batch)) batch[name as keyof typeof batch] = instrumentBatch(p, metrics);
  for (const [name, p] of Object.entries(providers.realtime)) realtime[name as keyof typeof realtime] = instrumentRealtime(p, metrics);
  return { ...providers, batch, realtime };
}

function instrumentBatch(p: BatchProvider, metrics: DroverMetrics): BatchProvider {
  // The prototype keeps name, createScope and classifyError; only the calls are replaced.
  const wrapped = Object.create(p) as BatchProvider;
  const calls = wrapped as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const [method, operation] of Object.entries(BATCH_CALLS)) {
    const fn = (p as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[method]!.bind(p);
    calls[method] = (...args: unknown[]) => timed(metrics, p.name, operation, p, () => fn(...args));
  }
  for (const [method, operation] of Object.entries(BATCH_STREAMS)) {
    const fn = (p as unknown as Record<string, (...args: unknown[]) => AsyncIterable<unknown>>)[method]!.bind(p);
    calls[method] = (...args: unknown[]) => timedStream(metrics, p.name, operation, p, () => fn(...args));
  }
  return wrapped;
}

function instrumentRealtime(p: RealtimeProvider, metrics: DroverMetrics): RealtimeProvider {
  const wrapped = Object.create(p) as RealtimeProvider;
  wrapped.complete = (request, opts) => timed(metrics, p.name, 'complete', p, () => p.complete(request, opts));
  return wrapped;
}

async function timed<T>(metrics: DroverMetrics, provider: string, operation: string, p: Classify, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    const out = await fn();
    metrics.providerCall(provider, operation, (performance.now() - started) / 1000);
    return out;
  } catch (err) {
    metrics.providerCall(provider, operation, (performance.now() - started) / 1000, errorType(p, err));
    throw err;
  }
}

async function* timedStream<T>(
  metrics: DroverMetrics,
  provider: string,
  operation: string,
  p: Classify,
  fn: () => AsyncIterable<T>,
): AsyncGenerator<T> {
  const started = performance.now();
  let failure: string | undefined;
  try {
    yield* fn();
  } catch (err) {
    failure = errorType(p, err);
    throw err;
  } finally {
    metrics.providerCall(provider, operation, (performance.now() - started) / 1000, failure);
  }
}

function errorType(p: Classify, err: unknown): string {
  return p.classifyError(err)?.type ?? 'other';
}
