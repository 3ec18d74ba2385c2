import { newKey } from '../api/auth/keys.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { spawnNode, type NodeProcess } from '../stack/processes.js';
import { createScratchDatabase } from '../stack/scratch-database.js';
import { freePort, startTemporalDevServer, stopChild } from '../stack/temporal-server.js';

export interface BenchStackOptions {
  /** Names the scratch database and the task queue. */
  name: string;
  processingMs: number;
  workers?: number;
  workerEnv?: Record<string, string>;
  apiEnv?: Record<string, string>;
}

export interface BenchStack {
  baseUrl: string;
  /** `Authorization` for the API: the stack's admin key. */
  auth: { authorization: string };
  temporalAddress: string;
  /** The scratch database, for a benchmark that seeds or reads rows itself. */
  databaseUrl: string;
  emulator: Emulator;
  workers: NodeProcess[];
  api: NodeProcess;
  stop(): Promise<void>;
}

/**
 * What every benchmark runs on: a Temporal dev server, a fresh database on the local
 * PostgreSQL, the emulator in this process, and the workers and API as processes of their own
 * (from source with tsx), all on one task queue.
 */
export async function startBenchStack(opts: BenchStackOptions): Promise<BenchStack> {
  const [temporal, database, emulator] = await Promise.all([
    startTemporalDevServer(),
    createScratchDatabase(`drover_bench_${opts.name.replaceAll('-', '_')}`),
    startEmulator({ processingMs: opts.processingMs }),
  ]);
  const common = { DATABASE_URL: database.url, TEMPORAL_ADDRESS: temporal.address, DROVER_TASK_QUEUE: `bench-${opts.name}` };
  const workers: NodeProcess[] = [];
  for (let i = 0; i < (opts.workers ?? 1); i++) {
    // LOG_LEVEL info until ready, so the readiness line is printed; warn would hide it.
    const env = { ...common, LOG_LEVEL: 'info', OPENAI_BASE_URL: emulator.openaiBaseURL, OPENAI_API_KEY: 'bench', ...opts.workerEnv };
    workers.push(await spawnNode('workers/main.ts', env, 'worker started'));
  }
  const apiPort = await freePort();
  const adminKey = newKey();
  const apiEnv = { ...common, LOG_LEVEL: 'info', PORT: String(apiPort), DROVER_ADMIN_KEY: adminKey, ...opts.apiEnv };
  const api = await spawnNode('api/server.ts', apiEnv, 'API listening');
  return {
    baseUrl: `http://127.0.0.1:${apiPort}`,
    auth: { authorization: `Bearer ${adminKey}` },
    temporalAddress: temporal.address,
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
