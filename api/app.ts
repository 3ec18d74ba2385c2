import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import type { BatchService } from './batch-service.js';
import { routerOf, type Route } from './define-route.js';
import { errorBody, errorHandler, refuseInvalidUtf8 } from './errors.js';
import type { FileService } from './file-service.js';
import { openApiDocument } from './openapi.js';
import { batchRoutes } from './routes/batches.js';
import { completionRoutes } from './routes/completions.js';
import { eventRoutes } from './routes/events.js';
import { fileRoutes } from './routes/files.js';
import { resultRoutes } from './routes/results.js';
import { serviceRoutes } from './routes/service.js';

export interface AppDeps {
  batches: BatchService;
  files: FileService;
  logger: Logger;
  jsonLimit?: string;
  /** Event streams one tenant may hold open at once on this process. */
  maxEventStreams?: number;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');

  app.use((req, res, next) => {
    const requestId = req.get('x-request-id') ?? randomUUID();
    res.set('x-request-id', requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      deps.logger.info(
        { requestId, method: req.method, path: req.path, status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 },
        'request',
      );
    });
    next();
  });
  app.use(express.json({ limit: deps.jsonLimit ?? '100mb', verify: refuseInvalidUtf8 }));

  // In the order the reference lists them.
  const routes: Route[] = [
    ...batchRoutes(deps.batches),
    ...resultRoutes(deps.batches),
    ...eventRoutes(deps.batches, deps.maxEventStreams),
    ...completionRoutes(deps.batches),
    ...fileRoutes(deps.files),
  ];
  let document: Record<string, unknown> | undefined;
  routes.push(...serviceRoutes(() => (document ??= openApiDocument(routes))));
  app.use(routerOf(routes));

  app.use((req, res) => {
    res.status(404).json(errorBody('not_found', `no route for ${req.method} ${req.path}`));
  });
  app.use(errorHandler(deps.logger, { jsonLimit: deps.jsonLimit ?? '100mb' }));
  return app;
}
