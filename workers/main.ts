import { parseEnv } from '../config/env.js';
import { createLogger } from '../config/logger.js';
import { createDb } from '../store/db.js';
import { migrate } from '../store/migrate.js';
import { WorkerEnv } from './config.js';
import { installRuntime } from './runtime.js';
import { createDroverWorker } from './worker.js';

async function run(): Promise<void> {
  const env = parseEnv(WorkerEnv);
  const logger = createLogger(env.LOG_LEVEL, 'drover-worker');
  installRuntime(logger, env.LOG_LEVEL);
  const db = createDb(env.DATABASE_URL);
  await migrate(db);
  const { run, workers, shutdown } = await createDroverWorker(env, db, logger);
  logger.info({ taskQueues: workers.map((w) => w.options.taskQueue), role: env.DROVER_WORKER_ROLE }, 'worker started');
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, shutdown);
  await run();
  await db.end();
}

run().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
