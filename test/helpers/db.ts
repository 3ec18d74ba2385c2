import { createDb } from '../../store/db.js';
import { migrate } from '../../store/migrate.js';
import { startEmbeddedPostgres } from '../../stack/embedded-postgres.js';
import type { ScratchDatabase } from '../../stack/scratch-database.js';

/** The embedded store `npm run dev` uses without DATABASE_URL (a PostgreSQL server from npm), migrated. */
export async function createEmbeddedDatabase(): Promise<ScratchDatabase> {
  const pg = await startEmbeddedPostgres();
  const db = createDb(pg.url);
  await migrate(db);
  return {
    url: pg.url,
    db,
    async drop() {
      await db.end();
      await pg.stop();
    },
  };
}
