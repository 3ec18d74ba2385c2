import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { newKey } from '../api/auth/keys.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { spawnNode, type NodeProcess } from '../stack/processes.js';
import { createScratchDatabase } from '../stack/scratch-database.js';
import { freePort, startTemporalDevServer, stopChild } from '../stack/temporal-server.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORKFLOW_BUNDLE = 'dist/workflow-bundle.js';

export interface BenchStackOptions {
  /** Names the scratch database and the task queue. */
  name: string;
  processingMs: number;
  workers?: number;
  workerEnv?: Record<string, string>;
  apiEnv?: Record<string, string>;
  /**
   * Run the worker and API as production does: compiled (`npm run build`, `node dist/…`), the
   * worker loading the pre-built workflow bundle (`npm run build:workflows`,
   * DROVER_WORKFLOW_BUNDLE) instead of bundling with webpack at start. Otherwise from source with tsx.
   */
  production?: boolean;
  /** Skip the build for `production` (dist/ is already current). */
  skipBuild?: boolean;
  /** Node flags for the worker processes (`--cpu-prof`, `--heapsnapshot-near-heap-limit=2`). */
  workerNodeArgs?: string[];
}

export interface BenchStack {
  baseUrl: string;
  /** `Authorization` for the API: the stack's admin key. */
  auth: { authorization: string };
  temporalAddress: string;
  /** The scratch database's name: its server processes (`postgres: user <name> …`) can be measured. */
  databaseName: string;
  /** The scratch database, for a benchmark that seeds or reads rows itself. */
  databaseUrl: string;
  emulator: Emulator;
  workers: NodeProcess[];
  api: NodeProcess;
  stop(): Promise<void>;
}

/** `npm run build` and `npm run build:workflows`, as the Dockerfile runs them. */
export function buildForProduction(): void {
  for (const script of ['build', 'build:workflows']) {
    const r = spawnSync('npm', ['run', '--silent', script], { cwd: REPO_ROOT, stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`npm run ${script} failed (${r.status})`);
  }
}

/** A compiled entry point (`dist/workers/main.js`) as its own process, ready once it logs `ready`. */
function spawnCompiled(script: string, env: Record<string, string>, ready: string, nodeArgs: string[] = []): Promise<NodeProcess> {
  const child = spawn(process.execPath, [...nodeArgs, script], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out = (out + d.toString()).slice(-200_000);
      if (out.includes(ready)) resolve({ child, output: () => out });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before it was ready:\n${out}`)));
  });
}

/**
 * What every benchmark runs on: a Temporal dev server, a fresh database on the local
 * PostgreSQL, the emulator in this process, and the workers and API as processes of their own
 * (from source with tsx, or compiled with `production`), all on one task queue.
 */
export async function startBenchStack(opts: BenchStackOptions): Promise<BenchStack> {
  if (opts.production && !opts.skipBuild) buildForProduction();
  if (opts.production && !existsSync(`${REPO_ROOT}/${WORKFLOW_BUNDLE}`))
    throw new Error(`${WORKFLOW_BUNDLE} is missing: npm run build:workflows`);
  const [temporal, database, emulator] = await Promise.all([
    startTemporalDevServer(),
    createScratchDatabase(`drover_bench_${opts.name.replaceAll('-', '_')}`),
    startEmulator({ processingMs: opts.processingMs }),
  ]);
  const common = { DATABASE_URL: database.url, TEMPORAL_ADDRESS: temporal.address, DROVER_TASK_QUEUE: `bench-${opts.name}` };
  const start = (entry: 'workers/main' | 'api/server', env: Record<string, string>, ready: string, nodeArgs: string[] = []) =>
    opts.production
      ? spawnCompiled(`dist/${entry}.js`, env, ready, nodeArgs)
      : nodeArgs.length > 0
        ? spawnCompiled(`${entry}.ts`, env, ready, ['--import', 'tsx', ...nodeArgs])
        : spawnNode(`${entry}.ts`, env, ready);
  const workers: NodeProcess[] = [];
  for (let i = 0; i < (opts.workers ?? 1); i++) {
    // LOG_LEVEL info until ready, so the readiness line is printed; warn would hide it.
    const env = {
      ...common,
      LOG_LEVEL: 'info',
      OPENAI_BASE_URL: emulator.openaiBaseURL,
      OPENAI_API_KEY: 'bench',
      ...(opts.production ? { DROVER_WORKFLOW_BUNDLE: WORKFLOW_BUNDLE } : {}),
      ...opts.workerEnv,
    };
    workers.push(await start('workers/main', env, 'worker started', opts.workerNodeArgs));
  }
  const apiPort = await freePort();
  const adminKey = newKey();
  const apiEnv = { ...common, LOG_LEVEL: 'info', PORT: String(apiPort), DROVER_ADMIN_KEY: adminKey, ...opts.apiEnv };
  const api = await start('api/server', apiEnv, 'API listening');
  return {
    baseUrl: `http://127.0.0.1:${apiPort}`,
    auth: { authorization: `Bearer ${adminKey}` },
    temporalAddress: temporal.address,
    databaseName: new URL(database.url).pathname.slice(1),
    databaseUrl: database.url,
    emulator,
    workers,
    api,
    async stop() {
      await stopChild(api.child);
      for (const w of workers) await stopChild(w.child, 15_000);
      await emulator.close();
      await temporal.stop();
      await database.drop();
    },
  };
}

/** The benches' structured output, as NDJSON submits carry it: `response_format=` in the query string. */
export const LABEL_FORMAT_QUERY = encodeURIComponent(
  JSON.stringify({
    type: 'json_schema',
    json_schema: {
      name: 'label',
      schema: {
        type: 'object',
        properties: { label: { type: 'string', enum: ['positive', 'negative'] } },
        required: ['label'],
        additionalProperties: false,
      },
    },
  }),
);
