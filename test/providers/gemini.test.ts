/** The Gemini provider: pure encoding and mapping, then the real SDK against the emulator over HTTP. */
import assert from 'node:assert/strict';
import { readdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ApiError, type GoogleGenAI } from '@google/genai';
import type { ChatMessage, ResponseFormat } from '../../domain/batch-spec.js';
import { startEmulator, type Emulator } from '../../emulator/index.js';
import {
  classifyGeminiError,
  createGeminiClient,
  encodeGeminiRequest,
  geminiBatchState,
  geminiBatchStatus,
  geminiOutcome,
  geminiRetryAfterMs,
  geminiStatusFailure,
  GeminiBatchProvider,
  GeminiRealtimeProvider,
  guessImageMimeType,
  inlinedResultLines,
  inlineRequestBytes,
  parseGeminiErrorBody,
  parseGeminiOutputLine,
  parseRetryDelay,
  toBatchLineRequest,
  toGenerateContentParameters,
  toInlinedRequest,
} from '../../providers/gemini.js';
import type { BatchRequest, CallOutcome, ChatRequest, ProviderBatchStatus, ProviderResultLine } from '../../providers/types.js';
import { makeAjv, PERSON_SCHEMA } from '../emulator/helpers.js';

type Failure = Extract<CallOutcome, { ok: false }>;
type Success = Extract<CallOutcome, { ok: true }>;

const MODEL = 'gemini-2.5-flash';
const SCHEMA_FORMAT: ResponseFormat = {
  type: 'json_schema',
  json_schema: { name: 'person', schema: PERSON_SCHEMA as unknown as Record<string, unknown> },
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function asSuccess(o: CallOutcome): Success {
  assert.equal(o.ok, true, JSON.stringify(o));
  return o as Success;
}
function asFailure(o: CallOutcome): Failure {
  assert.equal(o.ok, false, JSON.stringify(o));
  return o as Failure;
}
const apiError = (status: number, error: Record<string, unknown>): ApiError => new ApiError({ status, message: JSON.stringify({ error }) });

describe('request encoding (pure)', () => {
  const messages: ChatMessage[] = [
    { role: 'system', content: 'Be terse.' },
    { role: 'system', content: [{ type: 'text', text: 'Answer in English.' }] },
    { role: 'user', content: 'Hello' },
    { role: 'assistant', content: 'Hi!' },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'Look:' },
        { type: 'image', data: 'iVBORw0KGgo=', media_type: 'image/png' },
        { type: 'image', url: 'https://example.com/cat.WEBP?size=large' },
        { type: 'image', url: 'https://example.com/photo' },
        { type: 'document', media_type: 'application/pdf', data: 'JVBERi0xLjQ=' },
        { type: 'document', media_type: 'text/plain', text: 'Body text', title: 'Notes' },
        { type: 'document', media_type: 'text/plain', text: 'Untitled body' },
      ],
    },
  ];

  test('system messages become systemInstruction; user → user, assistant → model; every part kind', () => {
    const enc = encodeGeminiRequest({ model: MODEL, messages });
    assert.deepEqual(enc.systemInstruction, { parts: [{ text: 'Be terse.' }, { text: 'Answer in English.' }] });
    assert.deepEqual(
      enc.contents.map((c) => c.role),
      ['user', 'model', 'user'],
    );
    assert.deepEqual(enc.contents[0], { role: 'user', parts: [{ text: 'Hello' }] });
    assert.deepEqual(enc.contents[1], { role: 'model', parts: [{ text: 'Hi!' }] });
    assert.deepEqual(enc.contents[2]?.parts, [
      { text: 'Look:' },
      { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
      { fileData: { fileUri: 'https://example.com/cat.WEBP?size=large', mimeType: 'image/webp' } },
      { fileData: { fileUri: 'https://example.com/photo', mimeType: 'image/jpeg' } },
      { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0xLjQ=' } },
      { text: 'Notes\n\nBody text' },
      { text: 'Untitled body' },
    ]);
    assert.deepEqual(enc.generationConfig, {});
  });

  test('image MIME types are guessed from the URL path', () => {
    assert.equal(guessImageMimeType('https://x.test/a/b.png'), 'image/png');
    assert.equal(guessImageMimeType('https://x.test/a.jpg#frag'), 'image/jpeg');
    assert.equal(guessImageMimeType('https://x.test/a.gif?v=2'), 'image/gif');
    assert.equal(guessImageMimeType('https://x.test/a.heic'), 'image/heic');
    assert.equal(guessImageMimeType('https://x.test/download?id=3'), 'image/jpeg');
    assert.equal(guessImageMimeType('not a url.png'), 'image/png');
  });

  test('json_schema → responseMimeType + responseJsonSchema; max_output_tokens → maxOutputTokens', () => {
    const request: ChatRequest = {
      model: MODEL,
      messages: [
        { role: 'system', content: 'S' },
        { role: 'user', content: 'Q' },
      ],
      response_format: SCHEMA_FORMAT,
      max_output_tokens: 64,
    };
    const params = toGenerateContentParameters(request);
    assert.equal(params.model, MODEL);
    assert.deepEqual(params.contents, [{ role: 'user', parts: [{ text: 'Q' }] }]);
    assert.deepEqual(params.config, {
      maxOutputTokens: 64,
      responseMimeType: 'application/json',
      responseJsonSchema: PERSON_SCHEMA,
      systemInstruction: { parts: [{ text: 'S' }] },
    });

    const line = toBatchLineRequest(request);
    assert.deepEqual(line, {
      contents: [{ role: 'user', parts: [{ text: 'Q' }] }],
      systemInstruction: { parts: [{ text: 'S' }] },
      generationConfig: { maxOutputTokens: 64, responseMimeType: 'application/json', responseJsonSchema: PERSON_SCHEMA },
    });

    const inlined = toInlinedRequest({ customId: '17', request });
    assert.deepEqual(Object.keys(inlined).sort(), ['config', 'contents', 'metadata']);
    assert.deepEqual(inlined.metadata, { key: '17' });

    // A text response format and no limit add nothing.
    const plain = toBatchLineRequest({ model: MODEL, messages: [{ role: 'user', content: 'Q' }], response_format: { type: 'text' } });
    assert.deepEqual(plain, { contents: [{ role: 'user', parts: [{ text: 'Q' }] }] });
    assert.ok(inlineRequestBytes([{ customId: '1', request }]) > JSON.stringify(line).length);
  });
});

describe('outcome mapping (pure)', () => {
  const usageMetadata = {
    promptTokenCount: 100,
    toolUsePromptTokenCount: 5,
    cachedContentTokenCount: 40,
    candidatesTokenCount: 30,
    thoughtsTokenCount: 12,
    totalTokenCount: 147,
  };

  test('text joins the first candidate’s parts and skips thoughts; usage in Drover terms', () => {
    const o = asSuccess(
      geminiOutcome({
        candidates: [
          {
            content: { role: 'model', parts: [{ text: 'thinking…', thought: true }, { text: 'Hello, ' }, { text: 'world' }] },
            finishReason: 'STOP',
          },
          { content: { parts: [{ text: 'other candidate' }] }, finishReason: 'STOP' },
        ],
        usageMetadata,
      }),
    );
    assert.equal(o.text, 'Hello, world');
    assert.equal(o.truncated, false);
    assert.deepEqual(o.usage, { input_tokens: 105, cached_input_tokens: 40, output_tokens: 42, reasoning_tokens: 12 });
  });

  test('MAX_TOKENS is truncated; missing usage is all zeros', () => {
    const o = asSuccess(geminiOutcome({ candidates: [{ content: { parts: [{ text: '{"a":' }] }, finishReason: 'MAX_TOKENS' }] }));
    assert.equal(o.truncated, true);
    assert.equal(o.text, '{"a":');
    assert.deepEqual(o.usage, { input_tokens: 0, cached_input_tokens: 0, output_tokens: 0, reasoning_tokens: 0 });
  });

  test('SAFETY, PROHIBITED_CONTENT and BLOCKLIST are final refusals; a prompt block is final too', () => {
    for (const finishReason of ['SAFETY', 'PROHIBITED_CONTENT', 'BLOCKLIST']) {
      const f = asFailure(geminiOutcome({ candidates: [{ content: { parts: [] }, finishReason }], usageMetadata }));
      assert.equal(f.retryable, false);
      assert.equal(f.error.code, 'refusal');
      assert.match(f.error.message, new RegExp(finishReason));
      assert.equal(f.usage?.input_tokens, 105);
    }
    const blocked = asFailure(geminiOutcome({ promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 9 } }));
    assert.equal(blocked.retryable, false);
    assert.equal(blocked.error.code, 'blocked');
    assert.equal(blocked.usage?.input_tokens, 9);
  });

  test('no candidate at all, or an empty RECITATION, may be retried', () => {
    assert.equal(asFailure(geminiOutcome({})).retryable, true);
    const recited = asFailure(geminiOutcome({ candidates: [{ content: { parts: [] }, finishReason: 'RECITATION' }] }));
    assert.deepEqual([recited.error.code, recited.retryable], ['recitation', true]);
  });

  test('per-request statuses: INVALID_ARGUMENT is final, INTERNAL and RESOURCE_EXHAUSTED are retried', () => {
    assert.deepEqual(geminiStatusFailure({ code: 3, message: 'bad' }), {
      ok: false,
      retryable: false,
      usage: null,
      error: { code: 'INVALID_ARGUMENT', message: 'bad', status_code: 400 },
    });
    assert.deepEqual(geminiStatusFailure({ code: 13, message: 'oops' }).error, { code: 'INTERNAL', message: 'oops', status_code: 500 });
    assert.equal(geminiStatusFailure({ code: 13 }).retryable, true);
    assert.equal(geminiStatusFailure({ code: 8 }).retryable, true);
    assert.equal(geminiStatusFailure({ code: 400, message: 'http' }).retryable, false);
    assert.equal(geminiStatusFailure({ code: 503 }).retryable, true);
  });

  test('inline results: keyed by metadata.key; without it, by input position when the order is known, else skipped', () => {
    const response = {
      candidates: [{ content: { parts: [{ text: 'A' }] }, finishReason: 'STOP' }],
      usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 1 },
    };
    const entries = [{ response, metadata: { key: 'k0' } }, { response }, { error: { code: 13, message: 'boom' } }];
    const keyed = inlinedResultLines(entries);
    assert.deepEqual(
      keyed.map((l) => l.customId),
      ['k0'],
    );
    const placed = inlinedResultLines(entries, ['a', 'b', 'c']);
    assert.deepEqual(
      placed.map((l) => [l.customId, l.ok]),
      [
        ['k0', true],
        ['b', true],
        ['c', false],
      ],
    );
    assert.equal((placed[2] as Extract<ProviderResultLine, { ok: false }>).retryable, true);
  });

  test('responses-file lines: {key, response} or {key, error}; a line without key is dropped', () => {
    const ok = parseGeminiOutputLine(
      JSON.stringify({ key: '5', response: { candidates: [{ content: { parts: [{ text: 'x' }] }, finishReason: 'STOP' }] } }),
    );
    assert.deepEqual(ok, {
      customId: '5',
      ok: true,
      text: 'x',
      truncated: false,
      usage: { input_tokens: 0, cached_input_tokens: 0, output_tokens: 0, reasoning_tokens: 0 },
    });
    const bad = parseGeminiOutputLine(JSON.stringify({ key: '6', error: { code: 3, message: 'no' } }));
    assert.deepEqual([bad?.customId, bad?.ok, bad && !bad.ok && bad.retryable], ['6', false, false]);
    assert.equal(parseGeminiOutputLine(JSON.stringify({ response: {} })), null);
  });
});

describe('batch status mapping (pure)', () => {
  test('every BATCH_STATE_* / JOB_STATE_* maps to a Drover state', () => {
    const cases: Array<[string, ProviderBatchStatus['state']]> = [
      ['BATCH_STATE_PENDING', 'validating'],
      ['BATCH_STATE_RUNNING', 'in_progress'],
      ['BATCH_STATE_SUCCEEDED', 'completed'],
      ['BATCH_STATE_FAILED', 'failed'],
      ['BATCH_STATE_CANCELLED', 'cancelled'],
      ['BATCH_STATE_EXPIRED', 'expired'],
      ['JOB_STATE_PENDING', 'validating'],
      ['JOB_STATE_RUNNING', 'in_progress'],
      ['JOB_STATE_SUCCEEDED', 'completed'],
      ['JOB_STATE_CANCELLING', 'cancelling'],
      ['JOB_STATE_CANCELLED', 'cancelled'],
      ['BATCH_STATE_SOMETHING_NEW', 'in_progress'],
    ];
    for (const [raw, state] of cases) assert.equal(geminiBatchState(raw), state, raw);
  });

  test('counts come from batchStats (int64 strings); a failed Operation carries its error', () => {
    const s = geminiBatchStatus({
      name: 'batches/abc',
      metadata: {
        state: 'BATCH_STATE_FAILED',
        batchStats: { requestCount: '10', successfulRequestCount: '0', failedRequestCount: '0', pendingRequestCount: '10' },
      },
      done: true,
      error: { code: 8, message: 'enqueued token limit exceeded' },
    });
    assert.deepEqual(s, {
      id: 'batches/abc',
      state: 'failed',
      terminal: true,
      counts: { total: 10, completed: 0, failed: 0 },
      error: 'RESOURCE_EXHAUSTED: enqueued token limit exceeded',
    });
    assert.deepEqual(geminiBatchStatus({ name: 'batches/x', metadata: { state: 'BATCH_STATE_RUNNING' } }).counts, {
      total: 0,
      completed: 0,
      failed: 0,
    });
  });
});

describe('error classification (pure)', () => {
  test('429 with RetryInfo → ProviderRateLimited with its delay', () => {
    const err = apiError(429, {
      code: 429,
      message: 'You exceeded your current quota. Please retry in 38.6s.',
      status: 'RESOURCE_EXHAUSTED',
      details: [
        { '@type': 'type.googleapis.com/google.rpc.QuotaFailure' },
        { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1.5s' },
      ],
    });
    const info = classifyGeminiError(err);
    assert.equal(info?.type, 'ProviderRateLimited');
    assert.equal(info?.retryable, true);
    assert.equal(info?.retryAfterMs, 1500);
    assert.equal(info?.status, 429);
    assert.match(info?.message ?? '', /^Gemini 429 RESOURCE_EXHAUSTED: You exceeded/);
    // Without RetryInfo the message's "retry in" is the fallback.
    assert.equal(classifyGeminiError(apiError(429, { message: 'Please retry in 38.6s.' }))?.retryAfterMs, 38_600);
    assert.equal(classifyGeminiError(apiError(429, { message: 'slow down' }))?.retryAfterMs, undefined);
  });

  test('statuses: 401/403 auth, 400/404 invalid, 408/409/5xx unavailable; network errors; others null', () => {
    const type = (status: number) => classifyGeminiError(apiError(status, { code: status, message: 'm' }));
    assert.deepEqual([type(401)?.type, type(401)?.retryable], ['ProviderAuthentication', false]);
    assert.equal(type(403)?.type, 'ProviderAuthentication');
    assert.deepEqual([type(400)?.type, type(400)?.retryable], ['ProviderInvalidRequest', false]);
    assert.equal(type(404)?.type, 'ProviderInvalidRequest');
    for (const s of [408, 409, 500, 503, 504])
      assert.deepEqual([type(s)?.type, type(s)?.retryable], ['ProviderUnavailable', true], String(s));
    const fetchFailed = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    });
    assert.equal(classifyGeminiError(fetchFailed)?.type, 'ProviderUnavailable');
    assert.equal(classifyGeminiError(new Error('something else')), null);
    assert.equal(classifyGeminiError('nope'), null);
    // A non-JSON body still classifies.
    assert.equal(classifyGeminiError(new ApiError({ status: 502, message: '<html>bad gateway</html>' }))?.type, 'ProviderUnavailable');
  });

  test('never copies an API key into the message', () => {
    const key = 'AIzaSyDUMMYdummyDUMMYdummyDUMMYdummy123';
    const info = classifyGeminiError(apiError(400, { message: `API key not valid: ${key} (url ?key=${key})` }));
    assert.ok(!info?.message.includes(key), info?.message);
  });

  test('retry delays and bodies', () => {
    assert.equal(parseRetryDelay('30s'), 30_000);
    assert.equal(parseRetryDelay('0.250s'), 250);
    assert.equal(parseRetryDelay('soon'), undefined);
    assert.equal(parseGeminiErrorBody('not json'), null);
    assert.equal(geminiRetryAfterMs({ message: 'retry in 120ms' }), 120);
  });
});

describe('GeminiBatchProvider and GeminiRealtimeProvider against the emulator', () => {
  let emulator: Emulator;
  let ai: GoogleGenAI;
  let provider: GeminiBatchProvider;
  let realtime: GeminiRealtimeProvider;
  const ajv = makeAjv();
  const validatePerson = ajv.compile(PERSON_SCHEMA);

  const schemaRequests = (n: number, prefix = ''): BatchRequest[] =>
    Array.from({ length: n }, (_, i) => ({
      customId: `${prefix}${i + 1}`,
      request: {
        model: MODEL,
        messages: [
          { role: 'system', content: 'Extract the person.' },
          { role: 'user', content: `Person number ${prefix}${i}` },
        ],
        response_format: SCHEMA_FORMAT,
        max_output_tokens: 1000,
      },
    }));
  const textRequests = (n: number, prefix = ''): BatchRequest[] =>
    Array.from({ length: n }, (_, i) => ({
      customId: `${prefix}${i + 1}`,
      request: { model: MODEL, messages: [{ role: 'user', content: `Question ${prefix}${i}` }] },
    }));

  async function waitTerminal(
    p: GeminiBatchProvider,
    name: string,
    timeoutMs = 8_000,
  ): Promise<{ final: ProviderBatchStatus; seen: Set<string> }> {
    const seen = new Set<string>();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await p.retrieve(name);
      seen.add(s.state);
      if (s.terminal) return { final: s, seen };
      if (Date.now() > deadline) throw new Error(`${name} still ${s.state}`);
      await sleep(25);
    }
  }
  async function collect(p: GeminiBatchProvider, name: string): Promise<ProviderResultLine[]> {
    const out: ProviderResultLine[] = [];
    for await (const line of p.results(name)) out.push(line);
    return out;
  }

  before(async () => {
    emulator = await startEmulator({ processingMs: 300, validatingMs: 50 });
    ai = createGeminiClient({ apiKey: 'gemini-test-key', baseUrl: emulator.geminiBaseUrl });
    provider = new GeminiBatchProvider(ai);
    realtime = new GeminiRealtimeProvider(ai);
  });
  after(async () => emulator.close());
  beforeEach(() => emulator.reset());

  test('inline batch of 20 schema requests: create, poll to completed, every id once with conforming JSON', async () => {
    const requests = schemaRequests(20);
    const jobKey = 'job-inline-1';
    const createdAfter = new Date();
    assert.equal(await provider.stageInput(jobKey, requests), null);
    const name = await provider.createBatch(jobKey, requests, null);
    assert.match(name, /^batches\/[^/]+$/);

    const { final, seen } = await waitTerminal(provider, name);
    assert.ok(seen.has('validating') || seen.has('in_progress'), [...seen].join());
    assert.deepEqual(final, { id: name, state: 'completed', terminal: true, counts: { total: 20, completed: 20, failed: 0 } });

    const lines = await collect(provider, name);
    assert.deepEqual(lines.map((l) => l.customId).sort(), requests.map((r) => r.customId).sort());
    for (const line of lines) {
      const ok = asSuccess(line);
      const value = JSON.parse(ok.text) as unknown;
      assert.ok(validatePerson(value), JSON.stringify(validatePerson.errors));
      assert.ok(ok.usage.input_tokens > 0 && ok.usage.output_tokens > 0);
      assert.equal(ok.truncated, false);
    }

    assert.equal(await provider.findBatch(jobKey, { createdAfter, requestCount: 20 }), name);
    assert.equal(await provider.findBatch('job-never-made', { createdAfter, requestCount: 20 }), null);
    const stats = emulator.stats();
    assert.equal(stats.batches_by_key[jobKey], 1);
    assert.equal(stats.gemini.batches_created, 1);
    assert.equal(stats.gemini.requests_received, 20);
    assert.equal(stats.gemini.files_uploaded, 0);
  });

  test('file batch: past the inline limit the input is uploaded, results are read from the downloaded file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'drover-gemini-test-'));
    try {
      const fileProvider = new GeminiBatchProvider(ai, { inlineLimitBytes: 1, tmpDir: dir });
      const requests = [...schemaRequests(6, 's'), ...textRequests(6, 't')];
      const jobKey = 'job-file-1';
      const staged = await fileProvider.stageInput(jobKey, requests);
      assert.match(staged ?? '', /^files\/[^/]+$/);
      const name = await fileProvider.createBatch(jobKey, requests, staged);
      const { final } = await waitTerminal(fileProvider, name);
      assert.deepEqual(final.counts, { total: 12, completed: 12, failed: 0 });

      const lines = await collect(fileProvider, name);
      assert.deepEqual(lines.map((l) => l.customId).sort(), requests.map((r) => r.customId).sort());
      for (const line of lines) {
        const ok = asSuccess(line);
        if (line.customId.startsWith('s')) assert.ok(validatePerson(JSON.parse(ok.text)), ok.text);
        else assert.match(ok.text, /^Echo: Question t\d+$/);
      }
      assert.deepEqual(await readdir(dir), [], 'the downloaded responses file is deleted');

      // Stopping early also deletes it.
      for await (const _ of fileProvider.results(name)) break;
      assert.deepEqual(await readdir(dir), []);

      assert.equal(await fileProvider.findBatch(jobKey, { createdAfter: new Date(Date.now() - 60_000), requestCount: 12 }), name);
      const stats = emulator.stats();
      assert.equal(stats.gemini.files_uploaded, 1);
      assert.equal(stats.batches_by_key[jobKey], 1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('cancel mid-way: cancelled, with results only for the requests that ran', async () => {
    emulator.setFaults({ processing_ms: 3000 });
    const requests = textRequests(30);
    const name = await provider.createBatch('job-cancel', requests, null);
    const deadline = Date.now() + 5000;
    for (;;) {
      const s = await provider.retrieve(name);
      if (s.counts.completed >= 3) break;
      assert.ok(Date.now() < deadline, 'no progress');
      await sleep(50);
    }
    await provider.cancel(name);
    const s = await provider.retrieve(name);
    assert.equal(s.state, 'cancelled');
    assert.equal(s.terminal, true);
    const lines = await collect(provider, name);
    assert.ok(lines.length >= 3 && lines.length < 30, `${lines.length} results`);
    assert.equal(lines.length, s.counts.completed + s.counts.failed);
    assert.ok(lines.every((l) => l.ok));
    assert.equal(new Set(lines.map((l) => l.customId)).size, lines.length);
    // Cancelling a finished batch is a no-op.
    await provider.cancel(name);
    assert.equal(emulator.stats().gemini.batch_cancels, 1);
  });

  test('line errors come back as retryable failures (INVALID_ARGUMENT ones as final)', async () => {
    emulator.setFaults({ line_errors: { every: 5 } });
    const name = await provider.createBatch('job-line-errors', textRequests(20), null);
    const { final } = await waitTerminal(provider, name);
    assert.deepEqual(final.counts, { total: 20, completed: 16, failed: 4 });
    const lines = await collect(provider, name);
    const failures = lines.filter((l) => !l.ok) as Array<Extract<ProviderResultLine, { ok: false }>>;
    assert.deepEqual(failures.map((f) => f.customId).sort(), ['10', '15', '20', '5']);
    for (const f of failures) {
      assert.equal(f.retryable, true);
      assert.equal(f.error.code, 'INTERNAL');
      assert.equal(f.error.status_code, 500);
    }

    emulator.setFaults({ line_errors: { every: 2, status: 400 } });
    const staged = await new GeminiBatchProvider(ai, { inlineLimitBytes: 1 }).stageInput('job-line-400', textRequests(4));
    const name400 = await provider.createBatch('job-line-400', textRequests(4), staged);
    await waitTerminal(provider, name400);
    const finals = (await collect(provider, name400)).filter((l) => !l.ok) as Array<Extract<ProviderResultLine, { ok: false }>>;
    assert.deepEqual(finals.map((f) => [f.customId, f.retryable, f.error.code]).sort(), [
      ['2', false, 'INVALID_ARGUMENT'],
      ['4', false, 'INVALID_ARGUMENT'],
    ]);
  });

  test('realtime: text, JSON with a schema, truncation, and an aborted call', async () => {
    const text = asSuccess(
      await realtime.complete({
        model: MODEL,
        messages: [
          { role: 'system', content: 'Be terse.' },
          { role: 'user', content: 'Hello Gemini' },
        ],
      }),
    );
    assert.equal(text.text, 'Echo: Hello Gemini');
    // prompt: ceil((12 + 9) / 4) = 6; output: ceil(18 / 4) = 5
    assert.deepEqual(text.usage, { input_tokens: 6, cached_input_tokens: 0, output_tokens: 5, reasoning_tokens: 0 });

    const json = asSuccess(
      await realtime.complete({ model: MODEL, messages: [{ role: 'user', content: 'Describe Ada' }], response_format: SCHEMA_FORMAT }),
    );
    assert.ok(validatePerson(JSON.parse(json.text)), json.text);

    const cut = asSuccess(
      await realtime.complete({
        model: MODEL,
        messages: [{ role: 'user', content: 'a fairly long question indeed' }],
        max_output_tokens: 2,
      }),
    );
    assert.equal(cut.truncated, true);

    const aborted = AbortSignal.abort();
    await assert.rejects(realtime.complete({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }, { signal: aborted }));
    assert.equal(emulator.stats().gemini.generate_content, 3);
  });

  test('429 with RetryInfo → ProviderRateLimited; 400 → ProviderInvalidRequest; 503 → ProviderUnavailable', async () => {
    const req: ChatRequest = { model: MODEL, messages: [{ role: 'user', content: 'hi' }] };
    emulator.setFaults({ http: [{ path: '/v1', status: 429, count: 1, retry_after_s: 7 }] });
    const limited = await realtime.complete(req).then(
      () => assert.fail('expected a 429'),
      (err: unknown) => err,
    );
    assert.ok(limited instanceof ApiError);
    const info = realtime.classifyError(limited);
    assert.equal(info?.type, 'ProviderRateLimited');
    assert.equal(info?.retryAfterMs, 7000);
    assert.ok(!info?.message.includes('gemini-test-key'));

    // The realtime rate limiter words its wait as RetryInfo too.
    emulator.setFaults({ rate_limit: { rpm: 1 } });
    await realtime.complete(req);
    const rpm = await realtime.complete(req).catch((err: unknown) => err);
    const rpmInfo = realtime.classifyError(rpm);
    assert.equal(rpmInfo?.type, 'ProviderRateLimited');
    assert.ok((rpmInfo?.retryAfterMs ?? 0) > 50_000 && (rpmInfo?.retryAfterMs ?? 0) <= 60_000, String(rpmInfo?.retryAfterMs));

    emulator.setFaults({
      http: [
        { path: '/v1', status: 400, count: 1 },
        { path: '/v1/batches', status: 503, count: 1 },
      ],
    });
    const bad = await realtime.complete(req).catch((err: unknown) => err);
    assert.deepEqual(
      [provider.classifyError(bad)?.type, provider.classifyError(bad)?.retryable, provider.classifyError(bad)?.status],
      ['ProviderInvalidRequest', false, 400],
    );
    const unavailable = await provider.retrieve('batches/whatever').catch((err: unknown) => err);
    assert.deepEqual(
      [provider.classifyError(unavailable)?.type, provider.classifyError(unavailable)?.retryable],
      ['ProviderUnavailable', true],
    );
    // A batch that does not exist is a final 404.
    const missing = await provider.retrieve('batches/nope').catch((err: unknown) => err);
    assert.equal(provider.classifyError(missing)?.type, 'ProviderInvalidRequest');
    // A real invalid request: a schema without application/json is refused by validation.
    const invalid = await ai.models
      .generateContent({ model: MODEL, contents: 'x', config: { responseJsonSchema: { type: 'object' } } })
      .catch((err: unknown) => err);
    assert.equal(provider.classifyError(invalid)?.type, 'ProviderInvalidRequest');
  });

  test('an unreachable server is ProviderUnavailable', async () => {
    const closed = await startEmulator();
    const url = closed.geminiBaseUrl;
    await closed.close();
    const dead = new GeminiRealtimeProvider(createGeminiClient({ apiKey: 'gemini-test-key', baseUrl: url }));
    const err = await dead.complete({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    const info = dead.classifyError(err);
    assert.equal(info?.type, 'ProviderUnavailable');
    assert.equal(info?.retryable, true);
  });
});
