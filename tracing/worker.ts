import { fileURLToPath } from 'node:url';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry';
import type { Tracing } from './tracing.js';

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
/** The workflow interceptor module, for `interceptors.workflowModules` and `bundleWorkflowCode`. */
export const WORKFLOW_TRACING_MODULE = fileURLToPath(new URL(`../workflows/otel-interceptors${ext}`, import.meta.url));

/** RunActivity spans, children of the workflow's StartActivity span; none when tracing is off. */
export function tracingActivityInterceptors(tracing: Tracing | undefined): ActivityInterceptorsFactory[] {
  if (!tracing) return [];
  return [
    (ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) }),
  ];
}

/**
 * The `exporter` sink the workflow interceptors call: into the process's span processor when
 * tracing is on, dropped when it is off (a pre-built bundle always carries the interceptors).
 */
export function workflowSpanSinks(tracing: Tracing | undefined): InjectedSinks<OpenTelemetrySinks> {
  if (tracing) return { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) };
  return { exporter: { export: { fn: () => {} } } };
}
