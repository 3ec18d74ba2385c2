// Before anything else: on an old Node this prints one line saying how to get Node 24, and exits.
import '../scripts/check-node.cjs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { newKey } from '../api/auth/keys.js';
import { ApiEnv } from '../api/config.js';
import { startApi } from '../api/start.js';
import { newEncryptionKeySpec } from '../config/encryption.js';
import { parseEnv } from '../config/env.js';
import { createLogger, logFormat } from '../config/logger.js';
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
import { devBanner, printableDatabaseUrl, type DevAddresses } from './banner.js';
import { checkPorts, explainBusyPort, parseAddress, type DevPort } from './ports.js';
import { findTemporalCli, INSTALL_TEMPORAL_CLI, startTemporalDevServer } from './temporal-server.js';

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
  const format = logFormat();
  const root = createLogger(process.env.LOG_LEVEL ?? 'info', undefined, format);
  const logger = root.child({ name: 'drover-dev' });
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err) => logger.warn({ err }, 'shutdown step failed'));
  };

  // Listened for from the start: a Ctrl-C during start-up stops it at the next step (the Temporal
  // runtime's own handler, installed later, would otherwise swallow it and leave the stack up).
  // A second one a moment later means now.
  let stopping = false;
  let firstSignalAt = 0;
  const stopRequested = new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        if (Date.now() - firstSignalAt > 1000) {
          logger.warn(`${signal} again: exiting without waiting`);
          process.exit(130);
        }
        return;
      }
      stopping = true;
      firstSignalAt = Date.now();
      logger.info(`${signal}: stopping`);
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });

  try {
    const temporalPort = Number(process.env.TEMPORAL_PORT ?? 7233);
    const uiPort = temporalPort + 1000;
    const apiPort = Number(process.env.PORT || 3000);
    // The UI decodes encrypted payloads through the API's codec endpoint (started below).
    const apiHost = ['', '0.0.0.0', '::'].includes(process.env.HOST ?? '') ? '127.0.0.1' : process.env.HOST!;
    const codecEndpoint = `http://${apiHost}:${apiPort}/codec`;
    // Each provider without a key (or base URL) is served by the emulator, and the log says so.
    const missing = (['OPENAI', 'ANTHROPIC', 'GEMINI'] as const).filter(
      (p) => !process.env[`${p}_API_KEY`] && !process.env[`${p}_BASE_URL`],
    );
    const emulatorPort = Number(process.env.EMULATOR_PORT ?? 4010);
    const metricsPort = process.env.DROVER_METRICS_PORT ? Number(process.env.DROVER_METRICS_PORT) : undefined;
    const sdkMetrics = parseAddress(process.env.DROVER_TEMPORAL_METRICS_ADDRESS);
    const ports = {
      temporal: { port: temporalPort, what: 'Temporal', variable: 'TEMPORAL_PORT' },
      ui: { port: uiPort, what: 'the Temporal UI', variable: 'TEMPORAL_PORT (the UI takes TEMPORAL_PORT + 1000)' },
      api: { port: apiPort, host: process.env.HOST || '127.0.0.1', what: 'the API', variable: 'PORT' },
      emulator: { port: emulatorPort, what: 'the provider emulator', variable: 'EMULATOR_PORT' },
      metrics: {
        port: metricsPort ?? 0,
        host: process.env.DROVER_METRICS_HOST || '127.0.0.1',
        what: "the worker's metrics",
        variable: 'DROVER_METRICS_PORT',
      },
      sdkMetrics: {
        port: sdkMetrics?.port ?? 0,
        host: sdkMetrics?.host,
        what: "the Temporal SDK's metrics",
        variable: 'DROVER_TEMPORAL_METRICS_ADDRESS',
      },
    } satisfies Record<string, DevPort>;

    const temporalDb = join(DATA_DIR, 'temporal.db');
    const pidFile = join(DATA_DIR, 'temporal.pid');
    const leftover = Number(await readFile(pidFile, 'utf8').catch(() => ''));
    if (leftover > 0 && (await stopLeftover(leftover, temporalDb)))
      logger.warn({ pid: leftover }, 'stopped the Temporal dev server an earlier run left behind');
    // Every fixed port, before anything starts: a busy one names itself and the setting that moves it.
    await checkPorts([
      ports.temporal,
      ports.ui,
      ports.api,
      ...(missing.length > 0 ? [ports.emulator] : []),
      ports.metrics,
      ports.sdkMetrics,
    ]);

    const cli = findTemporalCli();
    if (cli) logger.info(`starting the Temporal dev server on 127.0.0.1:${temporalPort} (${cli})…`);
    else
      logger.warn(
        `no temporal CLI (TEMPORAL_CLI_PATH, PATH, .tools/venv/bin): the Temporal SDK downloads one, which needs internet; else ${INSTALL_TEMPORAL_CLI}`,
      );
    const temporal = await startTemporalDevServer({
      cli,
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
    if (stopping) return;

    let databaseUrl = process.env.DATABASE_URL;
    let databaseDir: string | undefined;
    if (!databaseUrl) {
      databaseDir = join(DATA_DIR, 'postgres');
      logger.info(`no DATABASE_URL: starting an embedded PostgreSQL in ${databaseDir}…`);
      const pg = await startEmbeddedPostgres({ dataDir: databaseDir });
      stops.push(() => pg.stop());
      databaseUrl = pg.url;
      logger.info({ dataDir: databaseDir, url: pg.url }, 'embedded PostgreSQL ready');
      if (stopping) return;
    }

    const emulated: Record<string, string> = {};
    let emulator: Awaited<ReturnType<typeof startEmulator>> | undefined;
    if (missing.length > 0) {
      // Its batches are kept with the rest of the state, so a restart mid-batch lets the batch finish.
      const stateDir = join(DATA_DIR, 'emulator');
      emulator = await startEmulator({
        port: emulatorPort,
        processingMs: Number(process.env.EMULATOR_PROCESSING_MS ?? 3000),
        stateDir,
      }).catch(explainBusyPort(ports.emulator));
      const started = emulator;
      stops.push(() => started.close());
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
    installRuntime(root.child({ name: 'drover-worker' }), undefined, { metricsAddress: temporalMetricsAddress });

    const db = createDb(databaseUrl);
    stops.push(() => db.end());
    await migrate(db);

    logger.info('bundling the workflow code for the worker (webpack; about 15 s)…');
    const worker = await createDroverWorker(workerEnv, db, root.child({ name: 'drover-worker' }), { metrics });
    const workerDone = worker.run();
    stops.push(async () => {
      // On SIGINT or SIGTERM the Temporal runtime has begun the shutdown already: shutdown() stops
      // only the Workers still running. Then wait for them to finish (and remove their
      // registration) before the pool they use is closed.
      worker.shutdown();
      await workerDone;
    });
    if (stopping) return;

    const api = await startApi(apiEnv, db, root.child({ name: 'drover-api' }), { metrics, temporalMetricsAddress }).catch(
      explainBusyPort(ports.api),
    );
    stops.push(() => api.close());
    const metricsUrls = [`${api.url}/metrics (API, worker and Temporal SDK)`];
    if (workerEnv.DROVER_METRICS_PORT !== undefined) {
      const server = await startMetricsServer({
        port: workerEnv.DROVER_METRICS_PORT,
        host: workerEnv.DROVER_METRICS_HOST,
        token: workerEnv.DROVER_METRICS_TOKEN,
        source: { registry: metrics.registry, temporalAddress: temporalMetricsAddress },
      }).catch(explainBusyPort(ports.metrics));
      stops.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
      metricsUrls.push(
        `http://${workerEnv.DROVER_METRICS_HOST}:${(server.address() as { port: number }).port}/metrics (DROVER_METRICS_PORT)`,
      );
    }
    metricsUrls.push(`http://${temporalMetricsAddress}/metrics (Temporal SDK only)`);
    if (stopping) return;

    const addresses: DevAddresses = {
      api: api.url,
      temporal: temporal.address,
      temporalUi: temporal.uiUrl,
      ...(emulator ? { emulator: { url: emulator.url, providers: missing.map((p) => p.toLowerCase()) } } : {}),
      metrics: metricsUrls,
      database: databaseUrl,
      ...(databaseDir ? { databaseDir } : {}),
      dataDir: DATA_DIR,
      ...(process.env.DROVER_ADMIN_KEY ? {} : { adminKeyFile: join(DATA_DIR, 'admin-key') }),
      codecEndpoint,
    };
    const banner = devBanner(addresses);
    if (format === 'pretty') {
      process.stdout.write(`\n${banner.join('\n')}\n\n`);
    } else {
      // JSON for whatever reads stdout; the banner for the person at the terminal, on stderr.
      logger.info(
        { ...addresses, docs: `${api.url}/docs`, database: printableDatabaseUrl(databaseUrl) },
        `Drover is up: API ${api.url}, Temporal UI ${temporal.uiUrl}`,
      );
      process.stderr.write(`${banner.join('\n')}\n`);
    }

    // `kill -9` of `npm run dev` kills npm only, and leaves this process (under npm's `sh -c`)
    // running: under npm, watch npm too and shut down when it is gone.
    const watched = [process.ppid];
    if (process.env.npm_lifecycle_event) watched.push((await parentOf(process.ppid)) ?? process.ppid);
    await Promise.race([
      stopRequested,
      new Promise<void>((resolve) => {
        const timer = setInterval(async () => {
          for (const pid of watched) if ((await commandLineOf(pid)) === null) resolve();
        }, 1000);
        timer.unref();
      }),
    ]);
  } finally {
    if (stops.length > 0) logger.info('shutting down');
    await stopAll();
  }
}

/**
 * The dev stack's admin key: made once, kept in <data dir>/admin-key (mode 0600) where the CLI
 * finds it on a local stack, and never logged (the log says where it is).
 */
async function devAdminKey(logger: Logger): Promise<string> {
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
async function devEncryptionKey(logger: Logger): Promise<string> {
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
