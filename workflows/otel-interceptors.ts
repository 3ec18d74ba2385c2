/**
 * OpenTelemetry's workflow interceptors (not a workflow): RunWorkflow, StartActivity and
 * StartChildWorkflow spans, continuing the trace carried in the start headers. Loaded only into
 * traced workers (tracing/worker.ts) and into the pre-built bundle; the spans leave the sandbox
 * through the `exporter` sink, which Temporal does not call during replay.
 */
export { interceptors } from '@temporalio/interceptors-opentelemetry/lib/workflow-interceptors.js';
