import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { after, before } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { pino } from 'pino';
import { ApiEnv } from '../../api/config.js';
import { startApi, type RunningApi } from '../../api/start.js';
import { TERMINAL_BATCH_STATUSES } from '../../domain/responses.js';
import { startEmulator, type Emulator } from '../../emulator/index.js';
import { spawnNode } from '../../stack/processes.js';
import { createScratchDatabase, type ScratchDatabase } from '../../stack/scratch-database.js';
import { startTemporalDevServer, stopChild, type DevServer } from '../../stack/temporal-server.js';
import { ensureSearchAttributes } from '../../workers/search-attributes.js';
import { createEmbeddedDatabase } from './db.js';
import { SHARED_TEMPORAL_ADDRESS, SHARED_WORKFLOW_BUNDLE } from './shared-run.js';
import { writeWorkflowBundle } from './workflow-bundle.js';

export interface StackOptions {
  processingMs?: number;
  /** Extra API settings (poll intervals, chunks per run). */
  api?: Record<string, string>;
  /** The embedded PostgreSQL of `npm run dev` instead of the server on 5432. */
  embeddedStore?: boolean;
  /** Start one worker with the stack; tests that kill or configure workers start their own. */
  worker?: boolean;
}

export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Where this file's workflows run: a namespace of its own on a dev server. */
export interface TemporalTarget {
  address: string;
  namespace: string;
}

interface Running {
  temporal: TemporalTarget;
  /** Set when this file started the dev server itself (run outside `npm test`). */
  ownServer: DevServer | undefined;
  database: ScratchDatabase;
  emulator: Emulator;
  api: RunningApi;
  client: Client;
  connection: Connection;
  bundlePath: string;
}

/**
 * The stack of one test file, started before its tests and stopped after them: a `describe`
 * block calls this instead of writing its own before/after.
 */
export function useStack(options: StackOptions = {}): TestStack {
  const stack = new TestStack(options);
  before(async () => {
    await stack.start();
    if (options.worker) await stack.startWorker();
  });
  after(() => stack.stop());
  return stack;
}

/**
 * The whole of Drover, real parts only: a Temporal dev server (one per `npm test` run, see
 * shared-run.ts), a fresh PostgreSQL database, the provider emulator, the API in this process,
 * and workers as child processes (so a test can SIGKILL one). Nothing of Drover's own is mocked.
 */
export class TestStack {
  private running: Running | undefined;
  private readonly workers: WorkerProcess[] = [];
  readonly taskQueue = `drover-test-${process.pid}`;

  constructor(private readonly options: StackOptions = {}) {}

  async start(): Promise<void> {
    const opts = this.options;
    const sharedAddress = process.env[SHARED_TEMPORAL_ADDRESS];
    const sharedBundle = process.env[SHARED_WORKFLOW_BUNDLE];
    const [ownServer, database, emulator, bundlePath] = await Promise.all([
      sharedAddress ? undefined : startTemporalDevServer(),
      opts.embeddedStore ? createEmbeddedDatabase() : createScratchDatabase('drover_test'),
      startEmulator({ processingMs: opts.processingMs ?? 300 }),
      sharedBundle ?? writeWorkflowBundle(),
    ]);
    const address = sharedAddress ?? ownServer!.address;
    const connection = await Connection.connect({ address });
    const namespace = await createNamespace(connection);
    const env = ApiEnv.parse({
      DATABASE_URL: database.url,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: namespace,
      DROVER_TASK_QUEUE: this.taskQueue,
      PORT: '0',
      DROVER_POLL_INITIAL_MS: '200',
      DROVER_POLL_MAX_MS: '1000',
      ...opts.api,
    });
    const api = await startApi(env, database.db, pino({ level: 'silent' }));
    const client = new Client({ connection, namespace });
    this.running = { temporal: { address, namespace }, ownServer, database, emulator, api, client, connection, bundlePath };
  }

  private get parts(): Running {
    if (!this.running) throw new Error('the stack is not running: useStack() starts it before the tests');
    return this.running;
  }

  get temporal(): TemporalTarget {
    return this.parts.temporal;
  }

  get database(): ScratchDatabase {
    return this.parts.database;
  }

  get db() {
    return this.parts.database.db;
  }

  get emulator(): Emulator {
    return this.parts.emulator;
  }

  get api(): RunningApi {
    return this.parts.api;
  }

  get client(): Client {
    return this.parts.client;
  }

  /** Starts `workers/main.ts` as its own process and resolves once it polls. */
  async startWorker(extraEnv: Record<string, string> = {}): Promise<WorkerProcess> {
    const { temporal, database, emulator, bundlePath } = this.parts;
    const { child, output } = await spawnNode(
      'workers/main.ts',
      {
        DATABASE_URL: database.url,
        TEMPORAL_ADDRESS: temporal.address,
        TEMPORAL_NAMESPACE: temporal.namespace,
        DROVER_TASK_QUEUE: this.taskQueue,
        OPENAI_BASE_URL: emulator.openaiBaseURL,
        OPENAI_API_KEY: 'sk-test-secret-key-never-logged',
        ANTHROPIC_BASE_URL: emulator.url,
        ANTHROPIC_API_KEY: 'sk-ant-test-secret-never-logged',
        GEMINI_BASE_URL: emulator.url,
        GEMINI_API_KEY: 'gemini-test-secret-never-logged',
        // The emulator's chat completions stand in for a self-hosted OpenAI-compatible server.
        OPENAI_COMPATIBLE_BASE_URL: emulator.openaiBaseURL,
        DROVER_WORKFLOW_BUNDLE: bundlePath,
        LOG_LEVEL: 'info',
        ...extraEnv,
      },
      'worker started',
    );
    const w: WorkerProcess = { child, output, kill: (signal) => killWorker(child, signal) };
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

  /** Stops every worker this stack started, so a test can start one configured otherwise. */
  async stopWorkers(): Promise<void> {
    for (const w of this.workers.splice(0)) await w.kill('SIGTERM');
  }

  async stop(): Promise<void> {
    const running = this.running;
    if (!running) return;
    this.running = undefined;
    for (const w of this.workers) await w.kill('SIGTERM');
    await running.api.close();
    await running.connection.close();
    await running.emulator.close();
    await running.ownServer?.stop();
    if (!process.env[SHARED_WORKFLOW_BUNDLE]) await rm(dirname(running.bundlePath), { recursive: true, force: true });
    await running.database.drop();
  }
}

/**
 * A namespace of this file's own, so another file on the same dev server never shows up in its
 * batch lists or workflow queries. The dev server serves a new namespace at once.
 */
export async function createNamespace(connection: Connection): Promise<string> {
  const namespace = `drover-test-${process.pid}-${randomBytes(3).toString('hex')}`;
  await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
  await ensureSearchAttributes(connection, namespace);
  return namespace;
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
