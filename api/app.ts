import { randomUUID } from 'node:crypto';
import express, { type Express, type Request } from 'express';
import type { Logger } from 'pino';
import type { Authenticator } from './auth/authenticator.js';
import { AuthenticationError } from './auth/errors.js';
import type { KeyService } from './auth/key-service.js';
import type { BatchService } from './batch-service.js';
import { routerOf, type Route } from './define-route.js';
import { errorBody, errorHandler, refuseInvalidUtf8 } from './errors.js';
import type { FileService } from './file-service.js';
import { openApiDocument } from './openapi.js';
import { batchRoutes } from './routes/batches.js';
import { codecGuard, codecRoutes, type CodecOptions } from './routes/codec.js';
import { completionRoutes } from './routes/completions.js';
import { eventRoutes } from './routes/events.js';
import { fileRoutes } from './routes/files.js';
import { keyRoutes } from './routes/keys.js';
import { metricsRoutes, type MetricsRouteOptions } from './routes/metrics.js';
import { quotaRoutes } from './routes/quotas.js';
import { QuotaError, type QuotaService } from './quotas/quota-service.js';
import type { Caller } from './auth/keys.js';
import { resultRoutes } from './routes/results.js';
import { rerunRoutes } from './routes/rerun.js';
import { resultCacheRoutes } from './routes/result-cache.js';
import { serviceRoutes } from './routes/service.js';
import { traceRequests } from '../tracing/http.js';
import { activeTracing } from '../tracing/tracing.js';

export interface AppDeps {
  batches: BatchService;
  files: FileService;
  auth: Authenticator;
  keys: KeyService;
  quotas: QuotaService;
  logger: Logger;
  jsonLimit?: string;
  /** Event streams one tenant may hold open at once on this process. */
  maxEventStreams?: number;
  /** The remote codec for the Temporal UI (`/codec/decode`, `/codec/encode`). */
  codec?: CodecOptions;
  /** `GET /metrics` (Prometheus), when given. */
  metrics?: MetricsRouteOptions;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  if (activeTracing()) app.use(traceRequests());

  app.use((req, res, next) => {
    const requestId = req.get('x-request-id') ?? randomUUID();
    res.set('x-request-id', requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      // Reads that succeed are the CLI's status polls, one a second: debug. Writes and failures stay at info.
      const level = (req.method === 'GET' || req.method === 'HEAD') && res.statusCode < 400 ? 'debug' : 'info';
      deps.logger[level](
        { requestId, method: req.method, path: req.path, status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 },
        'request',
      );
    });
    next();
  });
  const authenticate = async (req: Request) => {
    try {
      return await deps.auth.authenticate(req.get('authorization'));
    } catch (err) {
      if (err instanceof AuthenticationError && req.res && !req.res.headersSent) req.res.set('WWW-Authenticate', 'Bearer realm="drover"');
      throw err;
    }
  };
  // Every /v1 request shows its key before its body is read: a caller without one cannot make
  // the API parse 100 MB. Each route then checks its scope (define-route.ts).
  app.use('/v1', async (req, res, next) => {
    res.locals.caller = await authenticate(req);
    try {
      await deps.quotas.admitRequest((res.locals.caller as Caller).tenant);
    } catch (err) {
      if (err instanceof QuotaError && err.retryAfterS) res.set('Retry-After', String(err.retryAfterS));
      throw err;
    }
    next();
  });
  // The same for the codec endpoint, whose key may come as a cookie (the Temporal UI's way).
  if (deps.codec) app.use(codecGuard(deps.codec, deps.auth));
  app.use(express.json({ limit: deps.jsonLimit ?? '100mb', verify: refuseInvalidUtf8 }));

  // In the order the reference lists them.
  const routes: Route[] = [
    ...batchRoutes(deps.batches),
    ...resultRoutes(deps.batches),
    ...eventRoutes(deps.batches, deps.maxEventStreams),
    ...completionRoutes(deps.batches),
    ...fileRoutes(deps.files),
    ...keyRoutes(deps.keys),
    ...quotaRoutes(deps.quotas),
    ...rerunRoutes(deps.batches),
    ...resultCacheRoutes(deps.batches),
    ...(deps.codec ? codecRoutes(deps.codec, deps.auth) : []),
    ...(deps.metrics ? metricsRoutes(deps.metrics) : []),
  ];
  let document: Record<string, unknown> | undefined;
  routes.push(...serviceRoutes(() => (document ??= openApiDocument(routes))));
  app.use(routerOf(routes, authenticate));

  app.use((req, res) => {
    res.status(404).json(errorBody('not_found', `no route for ${req.method} ${req.path}`));
  });
  app.use(errorHandler(deps.logger, { jsonLimit: deps.jsonLimit ?? '100mb' }));
  return app;
}
