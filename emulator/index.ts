/**
 * @module
 * An in-process emulator of OpenAI's Files, Batch and Chat Completions APIs, faithful enough that
 * the official `openai` SDK runs against it unchanged:
 *
 * ```ts
 * const emulator = await startEmulator({ processingMs: 100 });
 * const client = new OpenAI({ apiKey: 'x', baseURL: emulator.openaiBaseURL, maxRetries: 0 });
 * emulator.setFaults({ line_errors: { every: 10 } });
 * // ... exercise the code under test, then assert on emulator.stats() ...
 * await emulator.close();
 * ```
 *
 * Out-of-process callers use the admin routes on the same server: `GET /_emulator/stats`,
 * `PUT /_emulator/faults`, `POST /_emulator/reset`, `GET /_emulator/health`.
 */
import type { AddressInfo } from 'node:net';
import { FaultConfig, FaultState } from './faults.js';
import { BatchStore } from './openai-batches.js';
import { FileStore } from './openai-files.js';
import { createEmulatorServer, type EmulatorState } from './server.js';
import { emptyStats, type EmulatorStats } from './stats.js';

export { FaultConfig };
export type { EmulatorStats };

export interface EmulatorOptions {
  /** @default 0 (a random free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** How long a batch stays `in_progress`; 0 completes it by the next read. @default 2000 */
  processingMs?: number;
  /** How long a batch stays `validating`. @default 0 */
  validatingMs?: number;
  /** How long a batch stays `finalizing`. @default 0 */
  finalizingMs?: number;
}

export interface Emulator {
  /** `http://HOST:PORT`, without a trailing slash. */
  url: string;
  /** `url + '/v1'`: pass as `baseURL` to the OpenAI SDK. */
  openaiBaseURL: string;
  /** A snapshot of the counters. */
  stats(): EmulatorStats;
  /** Replaces the whole fault config (validated; throws a ZodError if invalid). */
  setFaults(f: FaultConfig): void;
  /** Clears faults, stats and all stored files and batches. */
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
  const files = new FileStore();
  const batches = new BatchStore({
    files,
    faults,
    stats,
    timings: () => ({ ...defaults, processingMs: faults.processingMs(defaults.processingMs) }),
  });
  const state: EmulatorState = {
    stats,
    faults,
    files,
    batches,
    reset() {
      faults.set({});
      batches.clear();
      files.clear();
      // In place, because the stores hold a reference to this object.
      Object.assign(stats, emptyStats());
    },
  };

  const server = createEmulatorServer(state);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    url,
    openaiBaseURL: `${url}/v1`,
    stats: () => structuredClone(stats),
    setFaults: (f) => faults.set(FaultConfig.parse(f)),
    reset: () => state.reset(),
    close: async () => {
      batches.clear();
      await new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Keep-alive sockets from the SDK would otherwise hold close() open.
        server.closeAllConnections();
      });
    },
  };
}
