import { z } from 'zod';
import type { ProviderName } from './edge.js';
import { RateLimiter, rateLimitError, rateLimitHeaders } from './rate-limit.js';
import type { EmulatorStats } from './stats.js';

/**
 * Faults a test switches on. `setFaults` replaces the whole config; every field is optional and
 * unknown fields are rejected, so a typo fails loudly instead of silently injecting nothing.
 * Every fault applies to all three providers, each answering in its own error format.
 */
export const FaultConfig = z.strictObject({
  /** Answer the next `count` matching requests with `status` instead of handling them. */
  http: z
    .array(
      z.strictObject({
        /** Prefix of the URL path, e.g. `/v1/batches` also matches `/v1/batches/batch_1/cancel`. */
        path: z.string().optional(),
        method: z.string().optional(),
        /** 529 is Anthropic's `overloaded_error`; 504 Gemini's `DEADLINE_EXCEEDED`. */
        status: z.literal([429, 500, 502, 503, 400, 504, 529]),
        count: z.number().int().min(0),
        /** Sets `retry-after` (seconds) and `retry-after-ms`, which the SDK's backoff reads (Gemini: a RetryInfo detail). */
        retry_after_s: z.number().min(0).optional(),
      }),
    )
    .optional(),
  /** Every `every`-th line (1-based position in its batch) gets an HTTP-level error in the error file. */
  line_errors: z
    .strictObject({
      every: z.number().int().min(1),
      status: z.number().int().min(400).max(599).optional(),
      /** Default true: a given custom_id+body fails at most once, so resubmitting it succeeds. */
      once: z.boolean().optional(),
    })
    .optional(),
  /** Every `every`-th JSON-mode answer is truncated JSON (batch: by line position; chat: by request count). */
  malformed_json: z.strictObject({ every: z.number().int().min(1), once: z.boolean().optional() }).optional(),
  /** The next `count` created batches fail during validation. */
  batch_fail: z.strictObject({ count: z.number().int().min(0) }).optional(),
  /** The next `count` created batches expire after processing `after_fraction` (default 0.5) of their lines. */
  batch_expire: z.strictObject({ count: z.number().int().min(0), after_fraction: z.number().min(0).max(1).optional() }).optional(),
  /** Replaces the `processingMs` option for batches created from now on. */
  processing_ms: z.number().int().min(0).optional(),
  /** Every batch create (all providers) waits this long before it creates the batch, so a test can act while a create is in flight. */
  create_delay_ms: z.number().min(0).optional(),
  /**
   * Limits on the realtime endpoints (chat completions, messages, generateContent) over a sliding
   * 60 s window: `rpm` requests and `tpm` prompt tokens, per model or globally. Excess requests get
   * 429 with the wait until they would fit. Setting any fault config starts the windows afresh.
   */
  rate_limit: z
    .strictObject({
      rpm: z.number().int().min(1).optional(),
      tpm: z.number().int().min(1).optional(),
      scope: z.enum(['model', 'global']).optional(),
    })
    .optional(),
});
export type FaultConfig = z.infer<typeof FaultConfig>;

export type HttpFault = NonNullable<FaultConfig['http']>[number];

/**
 * The live, mutable side of a FaultConfig: remaining counts and which requests already failed once.
 * Every injected fault is counted in `stats.faults_injected`.
 */
export class FaultState {
  private config: FaultConfig = {};
  private failedOnce = new Set<string>();
  private malformedOnce = new Set<string>();
  private jsonChats = 0;
  private limiter: RateLimiter | undefined;

  constructor(private readonly stats: EmulatorStats) {}

  /** Replaces the config and forgets which requests already failed, so each config starts fresh. */
  set(config: FaultConfig): void {
    this.config = structuredClone(config);
    this.failedOnce.clear();
    this.malformedOnce.clear();
    this.jsonChats = 0;
    this.limiter = config.rate_limit ? new RateLimiter(config.rate_limit) : undefined;
  }

  current(): FaultConfig {
    return structuredClone(this.config);
  }

  takeHttp(method: string, path: string): HttpFault | undefined {
    const fault = this.config.http?.find(
      (f) =>
        f.count > 0 && (f.path === undefined || path.startsWith(f.path)) && (f.method === undefined || f.method.toUpperCase() === method),
    );
    if (!fault) return undefined;
    fault.count--;
    this.stats.faults_injected.http++;
    return fault;
  }

  takeBatchFail(): boolean {
    const f = this.config.batch_fail;
    if (!f || f.count <= 0) return false;
    f.count--;
    this.stats.faults_injected.batch_fail++;
    return true;
  }

  /** Returns the fraction to process before expiring, when this batch is to expire. */
  takeBatchExpire(): number | undefined {
    const f = this.config.batch_expire;
    if (!f || f.count <= 0) return undefined;
    f.count--;
    this.stats.faults_injected.batch_expire++;
    return f.after_fraction ?? 0.5;
  }

  /**
   * Admits a realtime request or throws the provider's 429. Returns the rate-limit headers to send
   * with the answer (none when no `rate_limit` is configured). `promptTokens` counts against `tpm`.
   */
  admitRealtime(provider: ProviderName, model: string, promptTokens: number): Record<string, string> {
    if (!this.limiter) {
      this.stats.realtime_accepted++;
      return {};
    }
    const admission = this.limiter.admit(model, promptTokens);
    if (!admission.ok) {
      this.stats.faults_injected.rate_limited++;
      throw rateLimitError(provider, model, admission);
    }
    this.stats.realtime_accepted++;
    return rateLimitHeaders(provider, admission);
  }

  /** Waits out `create_delay_ms`, if set, as read when the create arrives. */
  async delayCreate(): Promise<void> {
    const ms = this.config.create_delay_ms;
    if (ms) await new Promise((resolve) => setTimeout(resolve, ms));
  }

  processingMs(fallback: number): number {
    return this.config.processing_ms ?? fallback;
  }

  /** HTTP status to fail this batch line with, if any. `key` identifies the request (custom_id + body). */
  lineError(position: number, key: string): number | undefined {
    const f = this.config.line_errors;
    if (!f || position % f.every !== 0) return undefined;
    if (f.once !== false) {
      if (this.failedOnce.has(key)) return undefined;
      this.failedOnce.add(key);
    }
    this.stats.faults_injected.line_errors++;
    return f.status ?? 500;
  }

  malformedLine(position: number, key: string): boolean {
    const f = this.config.malformed_json;
    return f !== undefined && position % f.every === 0 && this.markMalformed(key, f.once);
  }

  /** Chat requests have no position, so every JSON-mode chat request counts as the next one. */
  malformedChat(key: string): boolean {
    const f = this.config.malformed_json;
    if (!f) return false;
    this.jsonChats++;
    return this.jsonChats % f.every === 0 && this.markMalformed(key, f.once);
  }

  private markMalformed(key: string, once: boolean | undefined): boolean {
    if (once !== false) {
      if (this.malformedOnce.has(key)) return false;
      this.malformedOnce.add(key);
    }
    this.stats.faults_injected.malformed_json++;
    return true;
  }
}
