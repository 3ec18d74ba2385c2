import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { Providers } from '../providers/types.js';

const tracer = () => trace.getTracer('drover');

/** Methods that are pure local work, not calls to the provider. */
const LOCAL = new Set(['classifyError', 'constructor']);

/**
 * Wraps every provider's calls in a client span `provider <name> <operation>` (createBatch,
 * retrieve, results, complete…), child of the running activity's span. Applied only when tracing
 * is on, so the untraced worker calls its providers directly.
 */
export function traceProviders(providers: Providers): Providers {
  const wrap = <T extends object>(name: string, target: T): T =>
    new Proxy(target, {
      get(obj, prop, receiver) {
        const value: unknown = Reflect.get(obj, prop, receiver);
        if (typeof value !== 'function' || typeof prop !== 'string' || LOCAL.has(prop)) return value;
        return (...args: unknown[]) =>
          traced(`provider ${name} ${prop}`, name, prop, () => (value as (...a: unknown[]) => unknown).apply(obj, args));
      },
    });
  const out: Providers = { ...providers, batch: {}, realtime: {} };
  for (const [name, p] of Object.entries(providers.batch)) if (p) out.batch[name as keyof Providers['batch']] = wrap(name, p);
  for (const [name, p] of Object.entries(providers.realtime)) if (p) out.realtime[name as keyof Providers['realtime']] = wrap(name, p);
  return out;
}

function traced(spanName: string, provider: string, operation: string, call: () => unknown): unknown {
  const span = tracer().startSpan(spanName, {
    kind: SpanKind.CLIENT,
    attributes: { 'drover.provider': provider, 'drover.operation': operation },
  });
  const ctx = trace.setSpan(context.active(), span);
  let result: unknown;
  try {
    result = context.with(ctx, call);
  } catch (err) {
    fail(span, err);
    span.end();
    throw err;
  }
  if (result instanceof Promise) {
    return result.then(
      (v) => {
        span.end();
        return v;
      },
      (err: unknown) => {
        fail(span, err);
        span.end();
        throw err;
      },
    );
  }
  if (result && typeof result === 'object' && Symbol.asyncIterator in result) return iterate(span, result as AsyncIterable<unknown>);
  span.end();
  return result;
}

/** A streamed answer (results, listBatches): the span lasts until the stream is read or dropped. */
async function* iterate(span: Span, source: AsyncIterable<unknown>): AsyncGenerator<unknown> {
  try {
    yield* source;
  } catch (err) {
    fail(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/** The error's name only: provider messages can quote prompts. */
function fail(span: Span, err: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : 'error' });
}
