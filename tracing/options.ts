/** Where and as whom this process sends its spans; undefined means tracing is off. */
export interface TracingOptions {
  serviceName: string;
  /** The OTLP/HTTP traces URL (JSON encoding). */
  url: string;
  headers: Record<string, string>;
}

/**
 * Tracing follows the standard OpenTelemetry variables: on when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, taken as the full URL) is set, off otherwise, and then
 * nothing is created at all. `OTEL_SERVICE_NAME` overrides the service name.
 */
export function tracingOptions(env: Record<string, string | undefined>, serviceName: string): TracingOptions | undefined {
  const tracesUrl = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!tracesUrl && !base) return undefined;
  const url = tracesUrl || `${base!.replace(/\/+$/, '')}/v1/traces`;
  return { serviceName: env.OTEL_SERVICE_NAME?.trim() || serviceName, url, headers: parseHeaders(env.OTEL_EXPORTER_OTLP_HEADERS) };
}

/** `key1=value1,key2=value2`, values URL-encoded, as the OTLP exporter spec reads them. */
function parseHeaders(spec: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of spec?.split(',') ?? []) {
    const at = pair.indexOf('=');
    if (at > 0) headers[pair.slice(0, at).trim()] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  return headers;
}
