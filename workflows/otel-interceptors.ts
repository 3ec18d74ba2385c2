import { interceptors as otelInterceptors } from '@temporalio/interceptors-opentelemetry/lib/workflow-interceptors.js';
import { getRandomStream, type WorkflowInterceptors } from '@temporalio/workflow';

/**
 * OpenTelemetry's workflow interceptors (this module is not a workflow): RunWorkflow,
 * StartActivity and StartChildWorkflow spans, continuing the trace carried in the start headers.
 * Loaded into traced workers (tracing/worker.ts) and into the pre-built bundle; the spans leave
 * the sandbox through the `exporter` sink, which Temporal does not call during replay.
 *
 * The span and trace ids come from `Math.random()`, which in a workflow is the execution's
 * deterministic stream: drawn from it, they would shift every later `uuid4()` of the workflow
 * (webhook delivery ids) and break replay of histories recorded without tracing. So every
 * interceptor method draws from a stream of its own; `next(...)` gives the workflow back its own.
 */
export const interceptors = (): WorkflowInterceptors => {
  const stream = getRandomStream('drover-opentelemetry');
  const own = <T extends object>(interceptor: T): T =>
    new Proxy(interceptor, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => stream.with(() => (value as (...a: unknown[]) => unknown).apply(target, args));
      },
    });
  const otel = otelInterceptors();
  return {
    inbound: otel.inbound?.map(own),
    outbound: otel.outbound?.map(own),
    internals: otel.internals?.map(own),
  };
};
