import type { Server } from 'node:http';
import type { Express } from 'express';
import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import { loadPriceOverrides } from '../config/price-overrides.js';
import { connectClient, droverDataConverter } from '../config/temporal-connection.js';
import { DroverMetrics } from '../metrics/drover-metrics.js';
import { registerBatchGauges } from '../metrics/batch-gauges.js';
import { createApp } from './app.js';
import { Authenticator } from './auth/authenticator.js';
import { KeyService } from './auth/key-service.js';
import { QuotaService } from './quotas/quota-service.js';
import { BatchService } from './batch-service.js';
import { FileService } from './file-service.js';
import type { ApiEnv } from './config.js';
import type { IntakeLimits } from './intake/limits.js';
import { tracingFromEnv } from '../tracing/tracing.js';

/** How often each API process removes a page of expired uploads. */
const FILE_SWEEP_EVERY_MS = 5 * 60_000;

export interface RunningApi {
  app: Express;
  server: Server;
  url: string;
  close(): Promise<void>;
}

export interface ApiOptions {
  /**
   * The process's metrics, when the API shares its process with a worker (`npm run dev`): its
   * /metrics then carries the worker's too. Default: metrics of the API's own.
   */
  metrics?: DroverMetrics;
  /** The Temporal SDK's exporter in this process (`host:port`), appended to /metrics. */
  temporalMetricsAddress?: string;
}

/** Starts the API with one Temporal client and one pool for its whole life. */
export async function startApi(env: ApiEnv, db: Db, logger: Logger, opts: ApiOptions = {}): Promise<RunningApi> {
  // Off (and nothing created) unless OTEL_EXPORTER_OTLP_ENDPOINT is set; then workflow starts continue the request's trace.
  const tracing = tracingFromEnv('drover-api');
  const dataConverter = droverDataConverter(env, logger);
  const { client: temporal, connection } = await connectClient(env, dataConverter);
  const metrics = opts.metrics ?? new DroverMetrics();
  registerBatchGauges(metrics.registry, { db, logger, temporal: { client: temporal, taskQueue: env.DROVER_TASK_QUEUE } });
  const limits: IntakeLimits = {
    maxJsonDepth: env.DROVER_MAX_JSON_DEPTH,
    maxItemBytes: env.DROVER_MAX_ITEM_BYTES,
    maxItems: env.DROVER_MAX_ITEMS,
    maxStreamBytes: env.DROVER_MAX_UPLOAD_BYTES,
  };
  const quotas = new QuotaService(db);
  const batches = new BatchService(
    db,
    temporal,
    {
      limits,
      priceOverrides: loadPriceOverrides(env.DROVER_PRICES_FILE),
      taskQueue: env.DROVER_TASK_QUEUE,
      poll: { initialMs: env.DROVER_POLL_INITIAL_MS, maxMs: env.DROVER_POLL_MAX_MS, factor: 1.5 },
      chunksPerRun: env.DROVER_CHUNKS_PER_RUN,
      reconcileMs: env.DROVER_RECONCILE_MS,
      workerOffersCacheMs: env.DROVER_WORKER_OFFERS_CACHE_MS,
      allowPrivateWebhooks: env.DROVER_WEBHOOK_ALLOW_PRIVATE,
      resultCacheDefault: env.DROVER_RESULT_CACHE,
    },
    quotas,
  );
  const auth = new Authenticator(db, logger, { adminKey: env.DROVER_ADMIN_KEY });
  const keys = new KeyService(db, auth);
  const files = new FileService(db, limits, env.DROVER_FILE_TTL_SECONDS);
  // Expired uploads go even when nobody uploads: a small page every few minutes.
  const sweeper = setInterval(() => {
    files.sweep().catch((err: unknown) => logger.warn({ err }, 'sweeping expired files failed; the next sweep tries again'));
  }, FILE_SWEEP_EVERY_MS);
  sweeper.unref();
  const app = createApp({
    batches,
    files,
    auth,
    keys,
    quotas,
    logger,
    jsonLimit: env.DROVER_JSON_LIMIT,
    maxEventStreams: env.DROVER_MAX_EVENT_STREAMS,
    codec: { codec: dataConverter.payloadCodecs?.[0], corsOrigins: env.DROVER_CODEC_CORS_ORIGINS },
    metrics: {
      source: { registry: metrics.registry, ...(opts.temporalMetricsAddress ? { temporalAddress: opts.temporalMetricsAddress } : {}) },
      ...(env.DROVER_METRICS_TOKEN ? { token: env.DROVER_METRICS_TOKEN } : {}),
    },
  });
  const server = app.listen(env.PORT, env.HOST);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : env.PORT;
  return {
    app,
    server,
    url: `http://${env.HOST}:${port}`,
    async close() {
      clearInterval(sweeper);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await connection.close();
      await tracing?.flush().catch(() => {});
    },
  };
}
