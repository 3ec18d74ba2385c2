import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import type { IntakeContext } from './batch-intake.js';
import type { BatchService } from './batch-service.js';
import { errorBody, errorHandler } from './errors.js';
import { batchesRouter } from './routes/batches.js';
import { eventsRouter } from './routes/events.js';
import { filesRouter } from './routes/files.js';
import { referenceRouter } from './routes/reference.js';
import type { Db } from '../store/db.js';

export interface AppDeps {
  batches: BatchService;
  db: Db;
  intake: IntakeContext;
  logger: Logger;
  jsonLimit?: string;
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
      deps.logger.info({ requestId, method: req.method, path: req.path, status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'request');
    });
    next();
  });
  app.use(express.json({ limit: deps.jsonLimit ?? '100mb' }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.use(batchesRouter(deps.batches, deps.intake));
  app.use(eventsRouter(deps.batches));
  app.use(filesRouter(deps.db));
  app.use(referenceRouter());

  app.use((req, res) => {
    res.status(404).json(errorBody('not_found', `no route for ${req.method} ${req.path}`));
  });
  app.use(errorHandler(deps.logger));
  return app;
}
