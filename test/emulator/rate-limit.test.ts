/** The `rate_limit` fault: a sliding-window RPM/TPM limiter on every provider's realtime endpoint. */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { RateLimitError as AnthropicRateLimitError } from '@anthropic-ai/sdk';
import { ApiError } from '@google/genai';
import { RateLimitError } from 'openai';
import { startEmulator, type Emulator } from '../../emulator/index.js';
import { RateLimiter, WINDOW_MS } from '../../emulator/rate-limit.js';
import { anthropicClient, geminiClient, sdkClient } from './helpers.js';

describe('RateLimiter', () => {
  it('slides a 60 s window over requests and says when the next one fits', () => {
    const limiter = new RateLimiter({ rpm: 3 });
    for (const t of [0, 10, 20]) assert.equal(limiter.admit('m', 1, t).ok, true);
    const refused = limiter.admit('m', 1, 30);
    assert.deepEqual(refused, { ok: false, kind: 'requests', limit: 3, used: 3, requested: 1, retryAfterMs: WINDOW_MS - 30 });
    assert.equal(limiter.admit('m', 1, WINDOW_MS - 1).ok, false);
    const admitted = limiter.admit('m', 1, WINDOW_MS);
    assert.ok(admitted.ok);
    assert.deepEqual(admitted.requests, { limit: 3, remaining: 0, resetMs: 10 });
    assert.equal(limiter.admit('other-model', 1, WINDOW_MS).ok, true, 'scope model: one window per model');
  });

  it('limits prompt tokens, waiting until enough tokens age out', () => {
    const limiter = new RateLimiter({ tpm: 100, scope: 'global' });
    assert.ok(limiter.admit('a', 40, 0).ok);
    assert.ok(limiter.admit('b', 40, 1000).ok);
    const refused = limiter.admit('c', 40, 2000);
    assert.ok(!refused.ok);
    assert.equal(refused.kind, 'tokens');
    assert.equal(refused.retryAfterMs, WINDOW_MS - 2000, 'the first 40 tokens must age out');
    const tooBig = limiter.admit('c', 101, 2000);
    assert.ok(!tooBig.ok);
    assert.equal(tooBig.retryAfterMs, WINDOW_MS);
    assert.ok(limiter.admit('c', 20, 2000).ok);
  });

  it('stays cheap at benchmark rates', () => {
    const limiter = new RateLimiter({ rpm: 5000, tpm: 10_000_000 });
    const started = performance.now();
    let admitted = 0;
    // 200,000 requests over 10 minutes of synthetic time: 20,000 per minute against a 5,000 RPM limit.
    for (let i = 0; i < 200_000; i++) if (limiter.admit('m', 50, i * 3).ok) admitted++;
    const elapsed = performance.now() - started;
    assert.ok(admitted >= 5000 * 10 && admitted <= 5000 * 11, `admitted ${admitted}`);
    assert.ok(elapsed < 500, `took ${elapsed.toFixed(0)} ms`);
  });
});

describe('rate_limit over HTTP', () => {
  let emulator: Emulator;

  before(async () => {
    emulator = await startEmulator();
  });
  after(async () => emulator.close());
  beforeEach(() => emulator.reset());

  it('lets 60 of 70 concurrent chat completions through at rpm 60, refusing the rest with a retry delay', async () => {
    emulator.setFaults({ rate_limit: { rpm: 60 } });
    const client = sdkClient(emulator.openaiBaseURL);
    const settled = await Promise.allSettled(
      Array.from({ length: 70 }, (_, i) =>
        client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `q${i}` }] }).withResponse(),
      ),
    );
    const ok = settled.filter((s) => s.status === 'fulfilled');
    const refused = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
    assert.equal(ok.length, 60);
    assert.equal(refused.length, 10);
    for (const err of refused) {
      assert.ok(err instanceof RateLimitError);
      assert.equal(err.code, 'rate_limit_exceeded');
      assert.equal(err.type, 'requests');
      const ms = Number(err.headers.get('retry-after-ms'));
      assert.ok(ms > 50_000 && ms <= 60_000, `retry-after-ms ${ms}`);
      assert.equal(err.headers.get('retry-after'), String(Math.ceil(ms / 1000)));
      assert.equal(err.headers.get('x-ratelimit-remaining-requests'), '0');
      assert.match(err.message, /Limit 60, Used 60, Requested 1/);
    }
    const remaining = ok.map((s) => Number(s.value.response.headers.get('x-ratelimit-remaining-requests'))).sort((a, b) => a - b);
    assert.deepEqual(
      remaining,
      Array.from({ length: 60 }, (_, i) => i),
    );
    const stats = emulator.stats();
    assert.equal(stats.faults_injected.rate_limited, 10);
    assert.equal(stats.realtime_accepted, 60);
    assert.equal(stats.chat_completions, 60);
  });

  it('limits prompt tokens per minute (tpm) the same way', async () => {
    emulator.setFaults({ rate_limit: { tpm: 100 } });
    const client = sdkClient(emulator.openaiBaseURL);
    // Each request: ceil(36 / 4) + 3 = 12 prompt tokens, so 8 fit in 100.
    const settled = await Promise.allSettled(
      Array.from({ length: 12 }, () =>
        client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(36) }] }),
      ),
    );
    assert.equal(settled.filter((s) => s.status === 'fulfilled').length, 8);
    const refused = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
    assert.equal(refused.length, 4);
    assert.ok(
      refused.every(
        (e) =>
          e instanceof RateLimitError && e.type === 'tokens' && /tokens per min \(TPM\): Limit 100, Used 96, Requested 12/.test(e.message),
      ),
    );
  });

  it('answers Anthropic with rate_limit_error and retry-after, Gemini with RESOURCE_EXHAUSTED and RetryInfo', async () => {
    emulator.setFaults({ rate_limit: { rpm: 2, scope: 'global' } });
    const anthropic = anthropicClient(emulator.anthropicBaseURL);
    const ask = () => anthropic.messages.create({ model: 'claude-haiku-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    const { response } = await ask().withResponse();
    assert.equal(response.headers.get('anthropic-ratelimit-requests-limit'), '2');
    assert.equal(response.headers.get('anthropic-ratelimit-requests-remaining'), '1');
    assert.ok(!Number.isNaN(Date.parse(response.headers.get('anthropic-ratelimit-requests-reset') ?? '')));
    await ask();
    const refused = await ask().catch((e: unknown) => e);
    assert.ok(refused instanceof AnthropicRateLimitError);
    assert.equal(refused.type, 'rate_limit_error');
    const seconds = Number(refused.headers.get('retry-after'));
    assert.ok(seconds > 50 && seconds <= 60, `retry-after ${seconds}`);

    // scope global: the Gemini model shares the window the Anthropic requests filled.
    const gemini = geminiClient(emulator.geminiBaseUrl);
    const limited = await gemini.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' }).catch((e: unknown) => e);
    assert.ok(limited instanceof ApiError);
    assert.equal(limited.status, 429);
    const body = JSON.parse(limited.message) as { error: { status: string; details: Array<Record<string, string>> } };
    assert.equal(body.error.status, 'RESOURCE_EXHAUSTED');
    const retry = body.error.details.find((d) => d['@type'] === 'type.googleapis.com/google.rpc.RetryInfo');
    assert.match(retry?.retryDelay ?? '', /^(5\d|60)s$/);
    assert.ok(body.error.details.some((d) => d['@type'] === 'type.googleapis.com/google.rpc.QuotaFailure'));

    // A new config starts with empty windows; scope model keeps models apart.
    emulator.setFaults({ rate_limit: { rpm: 1 } });
    assert.equal((await gemini.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' })).text, 'Echo: hi');
    assert.equal((await gemini.models.generateContent({ model: 'gemini-2.5-pro', contents: 'hi' })).text, 'Echo: hi');
    await assert.rejects(
      gemini.models.generateContent({ model: 'gemini-2.5-pro', contents: 'hi' }),
      (e: unknown) => e instanceof ApiError && e.status === 429,
    );
    const stats = emulator.stats();
    assert.equal(stats.faults_injected.rate_limited, 3);
    assert.equal(stats.realtime_accepted, 4);
  });
});
