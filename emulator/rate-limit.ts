/**
 * Requests-per-minute and tokens-per-minute limits for the realtime endpoints, over a sliding 60 s
 * window like the providers' own limiters. Only admitted requests occupy the window (a refused
 * request costs nothing), and a refusal says how long until the request would fit, which is what a
 * well-behaved client should wait.
 *
 * Checking is O(1) amortised: each window is a queue of (time, tokens) in arrival order whose head
 * is dropped as it ages out; only a token refusal walks the queue to find when enough tokens free.
 */
import { ApiError } from './api-error.js';
import type { ProviderName } from './edge.js';
import { rfc3339 } from './ids.js';

export const WINDOW_MS = 60_000;

export interface RateLimitConfig {
  rpm?: number | undefined;
  tpm?: number | undefined;
  /** `model` (the default) keeps one window per model, as the providers do; `global` shares one. */
  scope?: 'model' | 'global' | undefined;
}

interface LimitState {
  limit: number;
  remaining: number;
  /** Until the oldest request in the window ages out, freeing a slot. */
  resetMs: number;
}

export type Admission =
  | { ok: true; requests?: LimitState; tokens?: LimitState }
  | { ok: false; kind: 'requests' | 'tokens'; limit: number; used: number; requested: number; retryAfterMs: number };

class SlidingWindow {
  private times: number[] = [];
  private tokens: number[] = [];
  private head = 0;
  tokenSum = 0;

  get count(): number {
    return this.times.length - this.head;
  }

  /** Arrival time of the oldest request still in the window, if any. */
  get oldest(): number | undefined {
    return this.times[this.head];
  }

  evict(now: number): void {
    const cutoff = now - WINDOW_MS;
    while (this.head < this.times.length && (this.times[this.head] as number) <= cutoff) {
      this.tokenSum -= this.tokens[this.head] as number;
      this.head++;
    }
    // Compact once the dead prefix dominates, so memory stays proportional to the window.
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.tokens = this.tokens.slice(this.head);
      this.head = 0;
    }
  }

  push(now: number, tokens: number): void {
    this.times.push(now);
    this.tokens.push(tokens);
    this.tokenSum += tokens;
  }

  /** When enough of the window's tokens will have aged out for `needed` more to fit under `limit`. */
  tokensFitAt(needed: number, limit: number, now: number): number {
    let freed = 0;
    for (let i = this.head; i < this.times.length; i++) {
      freed += this.tokens[i] as number;
      if (this.tokenSum - freed + needed <= limit) return (this.times[i] as number) + WINDOW_MS;
    }
    return now + WINDOW_MS;
  }
}

export class RateLimiter {
  private readonly windows = new Map<string, SlidingWindow>();

  constructor(private readonly config: RateLimitConfig) {}

  admit(model: string, tokens: number, now: number = Date.now()): Admission {
    const { rpm, tpm } = this.config;
    const key = this.config.scope === 'global' ? '*' : model;
    let w = this.windows.get(key);
    if (!w) {
      w = new SlidingWindow();
      this.windows.set(key, w);
    }
    w.evict(now);

    let refusal: Extract<Admission, { ok: false }> | undefined;
    if (rpm !== undefined && w.count >= rpm) {
      const freesAt = w.oldest === undefined ? now + WINDOW_MS : w.oldest + WINDOW_MS;
      refusal = { ok: false, kind: 'requests', limit: rpm, used: w.count, requested: 1, retryAfterMs: freesAt - now };
    }
    if (tpm !== undefined && w.tokenSum + tokens > tpm) {
      // A request larger than the whole budget never fits; a full window is the honest answer.
      const wait = tokens > tpm ? WINDOW_MS : w.tokensFitAt(tokens, tpm, now) - now;
      if (!refusal || wait > refusal.retryAfterMs) {
        refusal = { ok: false, kind: 'tokens', limit: tpm, used: w.tokenSum, requested: tokens, retryAfterMs: wait };
      }
    }
    if (refusal) return { ...refusal, retryAfterMs: Math.max(1, refusal.retryAfterMs) };

    w.push(now, tokens);
    const resetMs = (w.oldest ?? now) + WINDOW_MS - now;
    return {
      ok: true,
      ...(rpm !== undefined ? { requests: { limit: rpm, remaining: rpm - w.count, resetMs } } : {}),
      ...(tpm !== undefined ? { tokens: { limit: tpm, remaining: Math.max(0, tpm - w.tokenSum), resetMs } } : {}),
    };
  }
}

const seconds = (ms: number): string => `${Number((ms / 1000).toFixed(3))}s`;

/** The limit headers each provider sends with realtime responses (Gemini sends none). */
export function rateLimitHeaders(provider: ProviderName, a: Admission, now: number = Date.now()): Record<string, string> {
  const out: Record<string, string> = {};
  const states: Array<['requests' | 'tokens', LimitState | undefined]> = a.ok
    ? [
        ['requests', a.requests],
        ['tokens', a.tokens],
      ]
    : [[a.kind, { limit: a.limit, remaining: 0, resetMs: a.retryAfterMs }]];
  for (const [kind, s] of states) {
    if (!s) continue;
    if (provider === 'openai') {
      out[`x-ratelimit-limit-${kind}`] = String(s.limit);
      out[`x-ratelimit-remaining-${kind}`] = String(s.remaining);
      out[`x-ratelimit-reset-${kind}`] = seconds(s.resetMs);
    } else if (provider === 'anthropic') {
      // Prompt tokens are what the emulator counts, which Anthropic calls input tokens.
      const name = kind === 'requests' ? 'requests' : 'input-tokens';
      out[`anthropic-ratelimit-${name}-limit`] = String(s.limit);
      out[`anthropic-ratelimit-${name}-remaining`] = String(s.remaining);
      out[`anthropic-ratelimit-${name}-reset`] = rfc3339(now + s.resetMs);
    }
  }
  return out;
}

/**
 * The 429 for a refused request. `retry-after` (whole seconds, rounded up) and `retry-after-ms`
 * are what the OpenAI and Anthropic SDKs read; the Gemini edge turns them into a RetryInfo detail.
 */
export function rateLimitError(provider: ProviderName, model: string, refusal: Extract<Admission, { ok: false }>): ApiError {
  const { kind, limit, used, requested, retryAfterMs } = refusal;
  const wait = Number((retryAfterMs / 1000).toFixed(3));
  const per = kind === 'requests' ? 'requests per min (RPM)' : 'tokens per min (TPM)';
  const message =
    provider === 'anthropic'
      ? `This request would exceed the rate limit for your organization of ${limit} ${kind === 'requests' ? 'requests' : 'input tokens'} per minute for ${model} (emulated rate_limit). Please retry after ${Math.ceil(wait)} seconds.`
      : provider === 'gemini'
        ? `You exceeded your current quota of ${limit} ${per} for ${model} (emulated rate_limit). Please retry in ${wait}s.`
        : `Rate limit reached for ${model} in organization org-emulator on ${per}: Limit ${limit}, Used ${used}, Requested ${requested}. Please try again in ${wait}s. (emulated rate_limit)`;
  const headers = {
    ...rateLimitHeaders(provider, refusal),
    'retry-after': String(Math.ceil(retryAfterMs / 1000)),
    'retry-after-ms': String(Math.ceil(retryAfterMs)),
  };
  return new ApiError(429, message, kind, null, 'rate_limit_exceeded', headers);
}
