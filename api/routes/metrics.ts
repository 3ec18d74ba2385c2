import { errorBody } from '../errors.js';
import { defineRoute, Reply, type Route } from '../define-route.js';
import { METRICS_CONTENT_TYPE, metricsAuthorized, renderMetrics, type MetricsSource } from '../../metrics/exposition.js';

export interface MetricsRouteOptions {
  source: MetricsSource;
  /** DROVER_METRICS_TOKEN: when set, the scraper sends it as a bearer token; API keys are not asked for. */
  token?: string;
}

/** `GET /metrics`: Prometheus text; open unless DROVER_METRICS_TOKEN is set (docs/security.md, Metrics). */
export function metricsRoutes(opts: MetricsRouteOptions): Route[] {
  return [
    defineRoute(
      {
        method: 'get',
        path: '/metrics',
        tag: 'Service',
        scope: 'public',
        summary: 'Prometheus metrics',
        description:
          'Counters, histograms and gauges in the Prometheus text format: aggregates by provider, model, path and status, never a tenant, batch or item. With DROVER_METRICS_TOKEN set, it needs `Authorization: Bearer <that token>`.',
        responses: {
          200: { description: 'Prometheus text format 0.0.4.', content: { [METRICS_CONTENT_TYPE]: { schema: { type: 'string' } } } },
          401: { description: 'DROVER_METRICS_TOKEN is set and the request did not carry it.' },
        },
      },
      async ({ req, res }) => {
        if (!metricsAuthorized(req.get('authorization'), opts.token)) {
          return new Reply(401, errorBody('authentication_error', 'this endpoint needs the metrics token (DROVER_METRICS_TOKEN)'), {
            'WWW-Authenticate': 'Bearer realm="drover-metrics"',
          });
        }
        res.type(METRICS_CONTENT_TYPE).send(await renderMetrics(opts.source));
        return undefined;
      },
    ),
  ];
}
