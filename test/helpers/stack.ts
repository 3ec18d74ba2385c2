import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { pino } from 'pino';
import { ApiEnv } from '../../api/config.js';
import { newEncryptionKeySpec, parseEncryptionKeys } from '../../config/encryption.js';
import { droverDataConverter } from '../../config/temporal-connection.js';
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
  /** Give the emulator a state dir of its own, so the one `restartEmulator()` starts finds its batches. */
  emulatorState?: boolean;
  /** A Temporal server the test owns (one it restarts), instead of the run's shared dev server; read at start. */
  temporalAddress?: () => string;
  /** A database the test owns (on a PostgreSQL server it restarts); the stack drops it on stop. */
  database?: () => Promise<ScratchDatabase>;
  /** DROVER_WEBHOOK_ALLOW_PRIVATE for the API and every worker: for tests whose webhook receiver listens on 127.0.0.1. */
  allowPrivateWebhooks?: boolean;
  /**
   * DROVER_ENCRYPTION_KEYS of the API, the workers and `client`: a fresh key per stack unless
   * given; `false` leaves payloads plain.
   */
  encryptionKeys?: string | false;
}

export interface Answer {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

/** post/get/request as one key sends them. */
export interface Caller {
  request(method: string, path: string, body?: string, headers?: Record<string, string>): Promise<Answer>;
  get(path: string): Promise<Answer>;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Answer>;
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
  private emulatorStateDir: string | undefined;
  readonly taskQueue = `drover-test-${process.pid}`;
  /** The stack's DROVER_ADMIN_KEY (tenant `default`): post/get/request send it unless told otherwise (`as`). */
  readonly adminKey = `drv_test_${randomBytes(24).toString('base64url')}`;
  /** The stack's DROVER_ENCRYPTION_KEYS ('' when payloads are plain): every payload in its histories is encrypted with it. */
  readonly encryptionKeys: string;

  constructor(private readonly options: StackOptions = {}) {
    this.encryptionKeys = options.encryptionKeys === false ? '' : (options.encryptionKeys ?? newEncryptionKeySpec('test'));
  }

  async start(): Promise<void> {
    const opts = this.options;
    const sharedAddress = process.env[SHARED_TEMPORAL_ADDRESS];
    const sharedBundle = process.env[SHARED_WORKFLOW_BUNDLE];
    this.emulatorStateDir = opts.emulatorState ? await mkdtemp(join(tmpdir(), 'drover-emulator-state-')) : undefined;
    const stateDir = this.emulatorStateDir;
    const [ownServer, database, emulator, bundlePath] = await Promise.all([
      sharedAddress || opts.temporalAddress ? undefined : startTemporalDevServer(),
      opts.database ? opts.database() : opts.embeddedStore ? createEmbeddedDatabase() : createScratchDatabase('drover_test'),
      startEmulator({ processingMs: opts.processingMs ?? 300, ...(stateDir ? { stateDir } : {}) }),
      sharedBundle ?? writeWorkflowBundle(),
    ]);
    const address = opts.temporalAddress?.() ?? sharedAddress ?? ownServer!.address;
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
      DROVER_ADMIN_KEY: this.adminKey,
      ...this.webhookEnv,
      DROVER_ENCRYPTION_KEYS: this.encryptionKeys,
      // Tests resend the same texts batch after batch and count what reaches the emulator: the
      // result cache is off unless a test turns it on (test/e2e/result-cache.test.ts does).
      DROVER_RESULT_CACHE: 'off',
      ...opts.api,
    });
    const api = await startApi(env, database.db, pino({ level: 'silent' }));
    const keys = this.encryptionKeys ? parseEncryptionKeys(this.encryptionKeys) : undefined;
    const client = new Client({ connection, namespace, dataConverter: droverDataConverter({ DROVER_ENCRYPTION_KEYS: keys }) });
    this.running = { temporal: { address, namespace }, ownServer, database, emulator, api, client, connection, bundlePath };
  }

  private get webhookEnv(): Record<string, string> {
    return this.options.allowPrivateWebhooks ? { DROVER_WEBHOOK_ALLOW_PRIVATE: 'true' } : {};
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
        DROVER_ENCRYPTION_KEYS: this.encryptionKeys,
        LOG_LEVEL: 'info',
        ...this.webhookEnv,
        ...extraEnv,
      },
      'worker started',
    );
    const w: WorkerProcess = { child, output, kill: (signal) => killWorker(child, signal) };
    this.workers.push(w);
    return w;
  }

  async post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    return this.as(this.adminKey).post(path, body, headers);
  }

  async get(path: string): Promise<Answer> {
    return this.as(this.adminKey).get(path);
  }

  async request(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
    return this.as(this.adminKey).request(method, path, body, headers);
  }

  /** `Authorization: Bearer <adminKey>`, for tests that call fetch themselves. */
  get auth(): Record<string, string> {
    return { authorization: `Bearer ${this.adminKey}` };
  }

  /** The same helpers sending another key, or none (`null`). */
  as(key: string | null): Caller {
    const request = async (method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> => {
      const auth: Record<string, string> = key === null ? {} : { authorization: `Bearer ${key}` };
      const res = await fetch(this.api.url + path, { method, headers: { ...auth, ...headers }, ...(body !== undefined ? { body } : {}) });
      const text = await res.text();
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
      return { status: res.status, body: parsed as any, text, headers: res.headers };
    };
    return {
      request,
      get: (path) => request('GET', path),
      post: (path, body, headers = {}) =>
        request('POST', path, typeof body === 'string' ? body : JSON.stringify(body), { 'content-type': 'application/json', ...headers }),
    };
  }

  /** A new key through the admin API (tenant `default` unless given; both batch scopes unless given): its `key` and `id`. */
  async createKey(opts: { tenant?: string; scopes?: string[]; name?: string } = {}): Promise<{ id: string; key: string }> {
    const res = await this.post('/v1/admin/keys', {
      tenant: opts.tenant ?? 'default',
      name: opts.name ?? 'test key',
      scopes: opts.scopes ?? ['batches:read', 'batches:write'],
    });
    if (res.status !== 201) throw new Error(`creating a key: ${res.status} ${res.text}`);
    return { id: res.body.id, key: res.body.key };
  }

  /** What a refused request must leave as it found: rows of batches, items, files and their lines, and batch workflows. */
  async storedCounts(): Promise<{ batches: number; items: number; files: number; file_lines: number; workflows: number }> {
    const { rows } = await this.db.query(
      `SELECT (SELECT count(*) FROM batches)::int AS batches, (SELECT count(*) FROM items)::int AS items,
              (SELECT count(*) FROM files)::int AS files, (SELECT count(*) FROM file_lines)::int AS file_lines`,
    );
    let workflows = 0;
    for await (const _ of this.client.workflow.list({ query: `WorkflowType = 'processBatchWorkflow'` })) workflows++;
    return { ...rows[0], workflows };
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

  /**
   * Stops the emulator and, `downMs` later, starts another on the same port (workers keep their
   * URLs). With `emulatorState` it finds the old one's files and batches, unless told to `forget`.
   */
  async restartEmulator(opts: { downMs?: number; forget?: boolean } = {}): Promise<Emulator> {
    const running = this.parts;
    const stateDir = this.emulatorStateDir;
    await running.emulator.close();
    if (stateDir && opts.forget) await rm(stateDir, { recursive: true, force: true });
    await new Promise((r) => setTimeout(r, opts.downMs ?? 0));
    running.emulator = await startEmulator({
      port: Number(new URL(running.emulator.url).port),
      processingMs: this.options.processingMs ?? 300,
      ...(stateDir ? { stateDir } : {}),
    });
    return running.emulator;
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
    if (this.emulatorStateDir) await rm(this.emulatorStateDir, { recursive: true, force: true });
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
