import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { tracingOptions, type TracingOptions } from './options.js';

/** The process's tracer provider and what the worker's workflow sink needs to export through it. */
export interface Tracing {
  serviceName: string;
  resource: Resource;
  spanProcessor: SpanProcessor;
  /** Sends every finished span now (tests, and before exit). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

let active: Tracing | undefined;

/**
 * Registers one global tracer provider exporting over OTLP/HTTP, with async-context propagation
 * and W3C trace context. Once per process: where the API and the worker share one (`npm run dev`,
 * tests) the first caller names the service and the second reuses it.
 */
export function startTracing(options: TracingOptions): Tracing {
  if (active) return active;
  const resource = new Resource({ 'service.name': options.serviceName });
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter({ url: options.url, headers: options.headers }));
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register({ contextManager: new AsyncLocalStorageContextManager() });
  const tracing: Tracing = {
    serviceName: options.serviceName,
    resource,
    spanProcessor,
    flush: () => provider.forceFlush(),
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
      if (active === tracing) active = undefined;
    },
  };
  active = tracing;
  return tracing;
}

/** The running tracing, or undefined when it is off. */
export function activeTracing(): Tracing | undefined {
  return active;
}

/** Starts tracing when the OTEL_EXPORTER_OTLP_* variables ask for it; undefined (and nothing created) otherwise. */
export function tracingFromEnv(serviceName: string, env: Record<string, string | undefined> = process.env): Tracing | undefined {
  const options = tracingOptions(env, serviceName);
  return options ? startTracing(options) : undefined;
}
