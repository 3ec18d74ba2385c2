import { parseEnv } from '../config/env.js';
import { createLogger } from '../config/logger.js';
import { DroverMetrics } from '../metrics/drover-metrics.js';
import { freeLoopbackAddress, startMetricsServer } from '../metrics/exposition.js';
import { createDb } from '../store/db.js';
import { migrate } from '../store/migrate.js';
import { WorkerEnv } from './config.js';
import { installRuntime } from './runtime.js';
import { createDroverWorker } from './worker.js';

async function run(): Promise<void> {
  const env = parseEnv(WorkerEnv);
  const logger = createLogger(env.LOG_LEVEL, 'drover-worker');
  const metrics = env.DROVER_METRICS_PORT !== undefined ? new DroverMetrics() : undefined;
  // The SDK's exporter must be bound before the runtime starts; /metrics appends what it serves.
  const temporalAddress = env.DROVER_TEMPORAL_METRICS_ADDRESS ?? (metrics ? await freeLoopbackAddress() : undefined);
  installRuntime(logger, env.LOG_LEVEL, temporalAddress ? { metricsAddress: temporalAddress } : {});
  const db = createDb(env.DATABASE_URL);
  await migrate(db);
  const { run, workers, shutdown } = await createDroverWorker(env, db, logger, metrics ? { metrics } : {});
  if (metrics && env.DROVER_METRICS_PORT !== undefined) {
    const server = await startMetricsServer({
      port: env.DROVER_METRICS_PORT,
      host: env.DROVER_METRICS_HOST,
      token: env.DROVER_METRICS_TOKEN,
      source: { registry: metrics.registry, ...(temporalAddress ? { temporalAddress } : {}) },
    });
    const { port } = server.address() as { port: number };
    logger.info({ url: `http://${env.DROVER_METRICS_HOST}:${port}/metrics`, temporal: temporalAddress }, 'metrics served');
  }
  logger.info({ taskQueues: workers.map((w) => w.options.taskQueue), role: env.DROVER_WORKER_ROLE }, 'worker started');
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, shutdown);
  await run();
  await db.end();
}

run().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
