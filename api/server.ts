import { parseEnv } from '../config/env.js';
import { createLogger } from '../config/logger.js';
import { createDb } from '../store/db.js';
import { migrate } from '../store/migrate.js';
import { ApiEnv } from './config.js';
import { startApi } from './start.js';

async function run(): Promise<void> {
  const env = parseEnv(ApiEnv);
  const logger = createLogger(env.LOG_LEVEL, 'drover-api');
  const db = createDb(env.DATABASE_URL);
  await migrate(db);
  const api = await startApi(env, db, logger);
  logger.info({ url: api.url }, 'API listening');
  const stop = async () => {
    await api.close();
    await db.end();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

run().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
