import { timingSafeEqual, createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Where a process's metrics come from: its registry, and the Temporal SDK's own exporter when one runs. */
export interface MetricsSource {
  registry: Registry;
  /** `host:port` of the Temporal runtime's Prometheus exporter (workers/runtime.ts); its text is appended as it is. */
  temporalAddress?: string;
}

/**
 * The Prometheus text of a process: Drover's metrics, then the Temporal SDK's (prefixed
 * `temporal_`, so no name is shared). An exporter that does not answer within 2 s is left out of
 * that scrape, and `drover_temporal_metrics_up` says so.
 */
export async function renderMetrics(source: MetricsSource): Promise<string> {
  const own = await source.registry.metrics();
  if (!source.temporalAddress) return own;
  let temporal = '';
  try {
    const res = await fetch(`http://${source.temporalAddress}/metrics`, { signal: AbortSignal.timeout(2000) });
    if (res.ok) temporal = await res.text();
  } catch {
    temporal = '';
  }
  const up = `# HELP drover_temporal_metrics_up Whether the Temporal SDK's metrics answered for this scrape.\n# TYPE drover_temporal_metrics_up gauge\ndrover_temporal_metrics_up ${temporal ? 1 : 0}\n`;
  return `${own.endsWith('\n') ? own : own + '\n'}${up}${temporal && !temporal.endsWith('\n') ? temporal + '\n' : temporal}`;
}

/** Whether an Authorization header carries the metrics token (compared in constant time); always true without a token. */
export function metricsAuthorized(header: string | undefined, token: string | undefined): boolean {
  if (!token) return true;
  const given = /^Bearer\s+(.+)$/i.exec(header ?? '')?.[1]?.trim() ?? '';
  const digest = (v: string) => createHash('sha256').update(v).digest();
  return timingSafeEqual(digest(given), digest(token));
}

/** The worker's `/metrics` (DROVER_METRICS_PORT): a bare HTTP server answering only that route. */
export async function startMetricsServer(opts: { port: number; host: string; token?: string; source: MetricsSource }): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    if (!metricsAuthorized(req.headers.authorization, opts.token)) {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="drover-metrics"' }).end('unauthorized\n');
      return;
    }
    renderMetrics(opts.source).then(
      (text) => res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE }).end(text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err.name}\n`),
    );
  });
  server.listen(opts.port, opts.host);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  server.unref();
  return server;
}

/** A free `127.0.0.1:<port>` for the Temporal exporter, which cannot report a port the OS picked. */
export async function freeLoopbackAddress(): Promise<string> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => probe.once('listening', resolve).once('error', reject));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `127.0.0.1:${port}`;
}
