/**
 * @module
 * An in-process emulator of three providers' batch and realtime APIs, faithful enough that the
 * official SDKs run against it unchanged, all on one port:
 *   - OpenAI: Files, Batches and Chat Completions (`openai`);
 *   - Anthropic: Message Batches and Messages (`@anthropic-ai/sdk`);
 *   - Gemini Developer API: Batch Mode, generateContent and Files (`@google/genai`).
 *
 * ```ts
 * const emulator = await startEmulator({ processingMs: 100 });
 * const openai = new OpenAI({ apiKey: 'x', baseURL: emulator.openaiBaseURL, maxRetries: 0 });
 * const anthropic = new Anthropic({ apiKey: 'x', baseURL: emulator.anthropicBaseURL, maxRetries: 0 });
 * const gemini = new GoogleGenAI({ apiKey: 'x', httpOptions: { baseUrl: emulator.geminiBaseUrl } });
 * emulator.setFaults({ line_errors: { every: 10 }, rate_limit: { rpm: 600 } });
 * // ... exercise the code under test, then assert on emulator.stats() ...
 * await emulator.close();
 * ```
 *
 * Out-of-process callers use the admin routes on the same server: `GET /_emulator/stats`,
 * `PUT /_emulator/faults`, `POST /_emulator/reset`, `GET /_emulator/health`.
 *
 * With `stateDir`, files and batches outlive the process (see state-dir.ts): a new emulator on
 * the same directory answers for them, and a batch that was running runs on by the clock.
 */
import type { AddressInfo } from 'node:net';
import { AnthropicBatchStore } from './anthropic/batches.js';
import { FaultConfig, FaultState } from './faults.js';
import { GeminiBatchStore } from './gemini/batches.js';
import { GeminiFileStore } from './gemini/files.js';
import { BatchStore } from './openai/batches.js';
import { FileStore } from './openai/files.js';
import { createEmulatorServer, type EmulatorState } from './server.js';
import { StateDir } from './state-dir.js';
import { PromptCache } from './prompt-cache.js';
import { emptyStats, type EmulatorStats } from './stats.js';

export { FaultConfig };
export type { EmulatorStats };

export interface EmulatorOptions {
  /** @default 0 (a random free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** How long a batch of any provider processes (`in_progress`, RUNNING); 0 completes it by the next read. @default 2000 */
  processingMs?: number;
  /** How long an OpenAI batch stays `validating`, and a Gemini batch PENDING. @default 0 */
  validatingMs?: number;
  /** How long an OpenAI batch stays `finalizing`. @default 0 */
  finalizingMs?: number;
  /**
   * A directory where files and batches are kept so they survive a restart (even SIGKILL); a new
   * emulator on the same directory carries on with them. Faults and stats are not kept. Only one
   * emulator at a time may use a directory. @default none: everything lives in memory
   */
  stateDir?: string;
}

export interface Emulator {
  /** `http://HOST:PORT`, without a trailing slash. */
  url: string;
  /** `url + '/v1'`: pass as `baseURL` to the OpenAI SDK. */
  openaiBaseURL: string;
  /** `url` itself (the Anthropic SDK's paths start with `/v1`): pass as `baseURL` to the Anthropic SDK. */
  anthropicBaseURL: string;
  /** `url` itself (the SDK adds the API version): pass as `httpOptions.baseUrl` to the Gemini SDK. */
  geminiBaseUrl: string;
  /** How many files and batches (all providers) were loaded from `stateDir` at start. */
  restored: { files: number; batches: number };
  /** A snapshot of the counters. */
  stats(): EmulatorStats;
  /** Replaces the whole fault config (validated; throws a ZodError if invalid). */
  setFaults(f: FaultConfig): void;
  /** Clears faults, stats and all stored files and batches (in `stateDir` too). */
  reset(): void;
  close(): Promise<void>;
}

export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const host = opts.host ?? '127.0.0.1';
  const defaults = {
    validatingMs: opts.validatingMs ?? 0,
    processingMs: opts.processingMs ?? 2000,
    finalizingMs: opts.finalizingMs ?? 0,
  };
  const stats = emptyStats();
  const faults = new FaultState(stats);
  const promptCache = new PromptCache(stats);
  const kept = opts.stateDir === undefined ? undefined : new StateDir(opts.stateDir);
  const files = new FileStore(kept?.kind('openai/files', ['content']));
  // Phase durations are read when a batch is created, so a `processing_ms` fault applies from then on.
  const processingMs = (): number => faults.processingMs(defaults.processingMs);
  const batches = new BatchStore({
    files,
    faults,
    stats,
    timings: () => ({ ...defaults, processingMs: processingMs() }),
    persist: kept?.kind('openai/batches', ['input']),
    promptCache,
  });
  const anthropicBatches = new AnthropicBatchStore({
    faults,
    stats,
    processingMs,
    persist: kept?.kind('anthropic/batches', ['requests', 'results']),
    promptCache,
  });
  const geminiFiles = new GeminiFileStore(kept?.kind('gemini/files', ['content']));
  const geminiBatches = new GeminiBatchStore({
    files: geminiFiles,
    faults,
    stats,
    timings: () => ({ validatingMs: defaults.validatingMs, processingMs: processingMs() }),
    persist: kept?.kind('gemini/batches', ['input']),
  });
  const warn = (message: string): void => process.emitWarning(message);
  const restored = {
    files: files.restore(warn) + geminiFiles.restore(warn),
    batches: batches.restore(warn) + anthropicBatches.restore(warn) + geminiBatches.restore(warn),
  };
  const state: EmulatorState = {
    stats,
    faults,
    promptCache,
    files,
    batches,
    anthropicBatches,
    geminiFiles,
    geminiBatches,
    reset() {
      faults.set({});
      batches.clear();
      files.clear();
      anthropicBatches.clear();
      geminiBatches.clear();
      geminiFiles.clear();
      kept?.wipe();
      promptCache.reset();
      // In place, because the stores hold a reference to this object.
      Object.assign(stats, emptyStats());
    },
  };

  const server = createEmulatorServer(state);
  const stopTimers = (): void => {
    batches.clear();
    anthropicBatches.clear();
    geminiBatches.clear();
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => {
      // Restored batches must not run on (and write to `stateDir`) behind an emulator that never started.
      stopTimers();
      reject(err);
    });
    server.listen(opts.port ?? 0, host, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    url,
    openaiBaseURL: `${url}/v1`,
    anthropicBaseURL: url,
    geminiBaseUrl: url,
    restored,
    stats: () => structuredClone(stats),
    setFaults: (f) => faults.set(FaultConfig.parse(f)),
    reset: () => state.reset(),
    close: async () => {
      stopTimers();
      await new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Keep-alive sockets from the SDK would otherwise hold close() open.
        server.closeAllConnections();
      });
    },
  };
}
