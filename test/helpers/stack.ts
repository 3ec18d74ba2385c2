import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { pino } from 'pino';
import { ApiEnv } from '../../api/config.js';
import { startApi, type RunningApi } from '../../api/start.js';
import { TERMINAL_BATCH_STATUSES } from '../../domain/responses.js';
import { startEmulator, type Emulator } from '../../emulator/index.js';
import { createScratchDatabase, type ScratchDatabase } from '../../stack/scratch-database.js';
import { startTemporalDevServer, stopChild, type DevServer } from '../../stack/temporal-server.js';
import { WORKFLOWS_PATH } from '../../workers/worker.js';
import { createEmbeddedDatabase } from './db.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface StackOptions {
  processingMs?: number;
  /** Extra API settings (poll intervals, chunks per run). */
  api?: Record<string, string>;
  /** The embedded PostgreSQL of `npm run dev` instead of the server on 5432. */
  embeddedStore?: boolean;
}

export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/**
 * The whole of Drover, real parts only: a Temporal dev server, a fresh PostgreSQL database, the
 * provider emulator, the API in this process, and workers as child processes (so a test can
 * SIGKILL one). Nothing of Drover's own is mocked.
 */
export class TestStack {
  private workers: WorkerProcess[] = [];

  private constructor(
    readonly temporal: DevServer,
    readonly database: ScratchDatabase,
    readonly emulator: Emulator,
    readonly api: RunningApi,
    readonly client: Client,
    private readonly clientConnection: Connection,
    readonly taskQueue: string,
    private readonly bundlePath: string,
  ) {}

  static async start(opts: StackOptions = {}): Promise<TestStack> {
    const [temporal, database, emulator, bundlePath] = await Promise.all([
      startTemporalDevServer(),
      opts.embeddedStore ? createEmbeddedDatabase() : createScratchDatabase('drover_test'),
      startEmulator({ processingMs: opts.processingMs ?? 300 }),
      writeBundle(),
    ]);
    const taskQueue = `drover-test-${process.pid}`;
    const env = ApiEnv.parse({
      DATABASE_URL: database.url,
      TEMPORAL_ADDRESS: temporal.address,
      DROVER_TASK_QUEUE: taskQueue,
      PORT: '0',
      DROVER_POLL_INITIAL_MS: '200',
      DROVER_POLL_MAX_MS: '1000',
      ...opts.api,
    });
    const api = await startApi(env, database.db, pino({ level: 'silent' }));
    const connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection });
    return new TestStack(temporal, database, emulator, api, client, connection, taskQueue, bundlePath);
  }

  get db() {
    return this.database.db;
  }

  /** Starts `workers/main.ts` as its own process and resolves once it polls. */
  async startWorker(extraEnv: Record<string, string> = {}): Promise<WorkerProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'workers/main.ts')], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: this.database.url,
        TEMPORAL_ADDRESS: this.temporal.address,
        DROVER_TASK_QUEUE: this.taskQueue,
        OPENAI_BASE_URL: this.emulator.openaiBaseURL,
        OPENAI_API_KEY: 'sk-test-secret-key-never-logged',
        ANTHROPIC_BASE_URL: this.emulator.url,
        ANTHROPIC_API_KEY: 'sk-ant-test-secret-never-logged',
        GEMINI_BASE_URL: this.emulator.url,
        GEMINI_API_KEY: 'gemini-test-secret-never-logged',
        // The emulator's chat completions stand in for a self-hosted OpenAI-compatible server.
        OPENAI_COMPATIBLE_BASE_URL: this.emulator.openaiBaseURL,
        DROVER_WORKFLOW_BUNDLE: this.bundlePath,
        LOG_LEVEL: 'info',
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        out += d.toString();
        if (out.includes('worker started')) resolve();
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it started:\n${out}`)));
    });
    await ready;
    const w: WorkerProcess = { child, output: () => out, kill: (signal) => killWorker(child, signal) };
    this.workers.push(w);
    return w;
  }

  async post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; text: string }> {
    const isString = typeof body === 'string';
    return this.request('POST', path, isString ? body : JSON.stringify(body), { 'content-type': 'application/json', ...headers });
  }

  async get(path: string): Promise<{ status: number; body: any; text: string }> {
    return this.request('GET', path);
  }

  async request(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
    const res = await fetch(this.api.url + path, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
    return { status: res.status, body: parsed as any, text, headers: res.headers };
  }

  /** Polls GET /v1/batches/:id until the batch reaches a final status. */
  async waitForBatch(id: string, timeoutMs = 120_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { body } = await this.get(`/v1/batches/${id}`);
      if (TERMINAL_BATCH_STATUSES.includes(body?.status)) return body;
      if (Date.now() > deadline) throw new Error(`batch ${id} still ${body?.status} after ${timeoutMs} ms: ${JSON.stringify(body)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async stop(): Promise<void> {
    for (const w of this.workers) await w.kill('SIGTERM');
    await this.api.close();
    await this.clientConnection.close();
    await this.emulator.close();
    await this.temporal.stop();
    await this.database.drop();
  }
}

async function killWorker(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (signal === 'SIGKILL') {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
    return;
  }
  await stopChild(child, 15_000);
}

let bundle: Promise<string> | undefined;
/** One workflow bundle per test process, shared by every worker it starts. */
function writeBundle(): Promise<string> {
  bundle ??= (async () => {
    const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } });
    const dir = await mkdtemp(join(tmpdir(), 'drover-bundle-'));
    const path = join(dir, 'workflow-bundle.js');
    await writeFile(path, code);
    return path;
  })();
  return bundle;
}
