import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDb, type Db } from '../../store/db.js';
import { migrate } from '../../store/migrate.js';
import { startEmbeddedPostgres } from '../../stack/embedded-postgres.js';

/** A server the tests may create databases on; CI and this machine have PostgreSQL on 5432. */
const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  url: string;
  db: Db;
  drop(): Promise<void>;
}

/** A fresh, migrated database per test file, so files never see each other's rows. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `drover_test_${process.pid}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const db = createDb(url.toString());
  await migrate(db);
  return {
    url: url.toString(),
    db,
    async drop() {
      await db.end();
      const a = new pg.Client({ connectionString: ADMIN_URL });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

/** The embedded store `npm run dev` uses without DATABASE_URL (a PostgreSQL server from npm), migrated. */
export async function createEmbeddedDatabase(): Promise<TestDatabase> {
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
