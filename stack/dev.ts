import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newKey } from '../api/auth/keys.js';
import { ApiEnv } from '../api/config.js';
import { startApi } from '../api/start.js';
import { newEncryptionKeySpec } from '../config/encryption.js';
import { parseEnv } from '../config/env.js';
import { createLogger } from '../config/logger.js';
import { startEmulator } from '../emulator/index.js';
import { DroverMetrics } from '../metrics/drover-metrics.js';
import { freeLoopbackAddress, startMetricsServer } from '../metrics/exposition.js';
import { createDb } from '../store/db.js';
import { migrate } from '../store/migrate.js';
import { WorkerEnv } from '../workers/config.js';
import { installRuntime } from '../workers/runtime.js';
import { createDroverWorker } from '../workers/worker.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { commandLineOf, parentOf, stopLeftover } from './orphans.js';
import { portInUse, startTemporalDevServer } from './temporal-server.js';

const DATA_DIR = process.env.DROVER_DATA_DIR ?? join(fileURLToPath(new URL('..', import.meta.url)), '.data');

/**
 * `npm run dev`: the whole of Drover on one machine with nothing installed but Node.
 * Temporal dev server (UI on 8233), the worker, the API on 3000, an embedded PostgreSQL unless
 * DATABASE_URL is set, and the provider emulator unless OPENAI_API_KEY is set. State lives in
 * .data/ (DROVER_DATA_DIR), the emulator's too, so batches survive a restart. Temporal and
 * PostgreSQL die with this process, even on SIGKILL, and it never runs on a Temporal server it
 * did not start.
 */
async function run(): Promise<void> {
  const logger = createLogger(process.env.LOG_LEVEL ?? 'info', 'drover-dev');
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err) => logger.warn({ err }, 'shutdown step failed'));
  };

  try {
    const temporalPort = Number(process.env.TEMPORAL_PORT ?? 7233);
    const uiPort = temporalPort + 1000;
    const temporalDb = join(DATA_DIR, 'temporal.db');
    const pidFile = join(DATA_DIR, 'temporal.pid');
    const leftover = Number(await readFile(pidFile, 'utf8').catch(() => ''));
    if (leftover > 0 && (await stopLeftover(leftover, temporalDb)))
      logger.warn({ pid: leftover }, 'stopped the Temporal dev server an earlier run left behind');
    for (const [port, what] of [
      [temporalPort, 'Temporal'],
      [uiPort, 'the Temporal UI'],
    ] as const) {
      if (await portInUse(port)) {
        throw new Error(
          `port ${port} (${what}) is already in use by a server npm run dev did not start: stop it, or set TEMPORAL_PORT to move Temporal (its UI takes TEMPORAL_PORT + 1000)`,
        );
      }
    }
    // The UI decodes encrypted payloads through the API's codec endpoint (started below).
    const apiHost = ['', '0.0.0.0', '::'].includes(process.env.HOST ?? '') ? '127.0.0.1' : process.env.HOST!;
    const codecEndpoint = `http://${apiHost}:${process.env.PORT || 3000}/codec`;
    const temporal = await startTemporalDevServer({
      port: temporalPort,
      headless: false,
      uiPort,
      dbFile: temporalDb,
      uiCodecEndpoint: codecEndpoint,
    });
    await writeFile(pidFile, String(temporal.pid ?? ''));
    stops.push(async () => {
      await temporal.stop();
      await rm(pidFile, { force: true });
    });
    logger.info({ address: temporal.address, ui: temporal.uiUrl }, 'Temporal dev server ready');

    let databaseUrl = process.env.DATABASE_URL;
    if (!databaseUrl) {
      const dataDir = join(DATA_DIR, 'postgres');
      const pg = await startEmbeddedPostgres({ dataDir });
      stops.push(() => pg.stop());
      databaseUrl = pg.url;
      logger.info({ dataDir, url: pg.url }, 'no DATABASE_URL: using an embedded PostgreSQL server');
    }

    // Each provider without a key (or base URL) is served by the emulator, and the log says so.
    const emulated: Record<string, string> = {};
    const missing = (['OPENAI', 'ANTHROPIC', 'GEMINI'] as const).filter(
      (p) => !process.env[`${p}_API_KEY`] && !process.env[`${p}_BASE_URL`],
    );
    if (missing.length > 0) {
      // Its batches are kept with the rest of the state, so a restart mid-batch lets the batch finish.
      const stateDir = join(DATA_DIR, 'emulator');
      const emulator = await startEmulator({
        port: Number(process.env.EMULATOR_PORT ?? 4010),
        processingMs: Number(process.env.EMULATOR_PROCESSING_MS ?? 3000),
        stateDir,
      });
      stops.push(() => emulator.close());
      const urls = { OPENAI: emulator.openaiBaseURL, ANTHROPIC: emulator.anthropicBaseURL, GEMINI: emulator.geminiBaseUrl };
      for (const p of missing) emulated[`${p}_BASE_URL`] = urls[p];
      logger.warn(
        { url: emulator.url, providers: missing.map((p) => p.toLowerCase()), stateDir, restored: emulator.restored },
        `no ${missing.map((p) => `${p}_API_KEY`).join(', ')}: using the provider emulator (outputs are synthetic)`,
      );
    }

    const adminKey = process.env.DROVER_ADMIN_KEY || (await devAdminKey(logger));
    const encryptionKeys = process.env.DROVER_ENCRYPTION_KEYS || (await devEncryptionKey(logger));
    const uiOrigins = [`http://127.0.0.1:${uiPort}`, `http://localhost:${uiPort}`];
    const env = {
      ...process.env,
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporal.address,
      // The dev server speaks plain gRPC: TLS or an API key meant for another Temporal would only break the connection.
      ...Object.fromEntries(TEMPORAL_CREDENTIALS.map((name) => [name, ''])),
      DROVER_ADMIN_KEY: adminKey,
      DROVER_ENCRYPTION_KEYS: encryptionKeys,
      DROVER_CODEC_CORS_ORIGINS: [process.env.DROVER_CODEC_CORS_ORIGINS, ...uiOrigins].filter(Boolean).join(','),
      ...emulated,
    };
    const workerEnv = parseEnv(WorkerEnv, env);
    const apiEnv = parseEnv(ApiEnv, env);
    // One process, one set of metrics: the API's /metrics carries the worker's and the Temporal SDK's.
    const metrics = new DroverMetrics();
    const temporalMetricsAddress = workerEnv.DROVER_TEMPORAL_METRICS_ADDRESS ?? (await freeLoopbackAddress());
    installRuntime(logger.child({ name: 'drover-worker' }), undefined, { metricsAddress: temporalMetricsAddress });

    const db = createDb(databaseUrl);
    stops.push(() => db.end());
    await migrate(db);

    const worker = await createDroverWorker(workerEnv, db, logger.child({ name: 'drover-worker' }), { metrics });
    const workerDone = worker.run();
    stops.push(async () => {
      // On SIGINT or SIGTERM the Temporal runtime has begun the shutdown already; wait for the
      // worker to finish (and remove its registration) before the pool it uses is closed.
      if (worker.worker.getState() === 'RUNNING') worker.worker.shutdown();
      await workerDone;
    });

    const api = await startApi(apiEnv, db, logger.child({ name: 'drover-api' }), { metrics, temporalMetricsAddress });
    stops.push(() => api.close());
    if (workerEnv.DROVER_METRICS_PORT !== undefined) {
      const server = await startMetricsServer({
        port: workerEnv.DROVER_METRICS_PORT,
        host: workerEnv.DROVER_METRICS_HOST,
        token: workerEnv.DROVER_METRICS_TOKEN,
        source: { registry: metrics.registry, temporalAddress: temporalMetricsAddress },
      });
      stops.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    }
    logger.info({ api: api.url, temporalUi: temporal.uiUrl }, `Drover is up: API ${api.url}, Temporal UI ${temporal.uiUrl}`);
    logger.info(
      { codecEndpoint },
      `payloads in Temporal are encrypted; to read them in the Temporal UI, open ${codecEndpoint} once, enter the admin key, and turn on "Include cross-origin credentials" in the UI's codec settings`,
    );

    // `kill -9` of `npm run dev` kills npm only, and leaves this process (under npm's `sh -c`)
    // running: under npm, watch npm too and shut down when it is gone.
    const watched = [process.ppid];
    if (process.env.npm_lifecycle_event) watched.push((await parentOf(process.ppid)) ?? process.ppid);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
      const timer = setInterval(async () => {
        for (const pid of watched) if ((await commandLineOf(pid)) === null) resolve();
      }, 1000);
      timer.unref();
    });
    logger.info('shutting down');
  } finally {
    await stopAll();
  }
}

/**
 * The dev stack's admin key: made once, kept in <data dir>/admin-key (mode 0600) where the CLI
 * finds it on a local stack, and never logged (the log says where it is).
 */
async function devAdminKey(logger: ReturnType<typeof createLogger>): Promise<string> {
  const file = join(DATA_DIR, 'admin-key');
  const existing = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (existing) {
    logger.info({ file }, `admin key (tenant default) in ${file}; the CLI uses it on this machine`);
    return existing;
  }
  const key = newKey();
  await mkdir(DATA_DIR, { recursive: true });
  // 'wx': never overwrite a key another start wrote a moment ago; 0600: only this user reads it.
  await writeFile(file, key + '\n', { mode: 0o600, flag: 'wx' }).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  const kept = (await readFile(file, 'utf8')).trim();
  logger.info({ file }, `created an admin key (tenant default) in ${file}: curl -H "Authorization: Bearer $(cat ${file})" …`);
  return kept;
}

const TEMPORAL_CREDENTIALS = [
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_CERT_DATA',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_DATA',
  'TEMPORAL_TLS_SERVER_NAME',
  'TEMPORAL_CONFIG_FILE',
  'TEMPORAL_PROFILE',
];

/**
 * The dev stack's payload key (DROVER_ENCRYPTION_KEYS format, `id:base64key`): made once, kept in
 * <data dir>/encryption-key (mode 0600) next to the Temporal database it protects, never logged.
 * Losing it makes the encrypted payloads of .data/temporal.db unreadable.
 */
async function devEncryptionKey(logger: ReturnType<typeof createLogger>): Promise<string> {
  const file = join(DATA_DIR, 'encryption-key');
  const existing = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (existing) return existing;
  await mkdir(DATA_DIR, { recursive: true });
  await writeFile(file, newEncryptionKeySpec('dev') + '\n', { mode: 0o600, flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  logger.info({ file }, `created a payload encryption key in ${file} (DROVER_ENCRYPTION_KEYS overrides it)`);
  return (await readFile(file, 'utf8')).trim();
}

run().then(
  () => process.exit(0),
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
