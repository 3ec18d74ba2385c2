/** The Anthropic provider: pure encoding/decoding, then the real SDK against the in-process emulator. */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { APIConnectionError } from '@anthropic-ai/sdk';
import type { Message } from '@anthropic-ai/sdk/resources/messages';
import type { MessageBatchIndividualResponse } from '@anthropic-ai/sdk/resources/messages/batches';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ResponseFormat } from '../../domain/batch-spec.js';
import { startEmulator, type Emulator } from '../../emulator/index.js';
import {
  anthropicBatchState,
  anthropicOutcome,
  anthropicResultLine,
  AnthropicBatchProvider,
  AnthropicRealtimeProvider,
  classifyAnthropicError,
  createAnthropicClient,
  DEFAULT_MAX_TOKENS,
  encodeAnthropicParams,
} from '../../providers/anthropic.js';
import type { BatchRequest, CallOutcome, ChatRequest, ProviderBatchStatus, ProviderResultLine } from '../../providers/types.js';

type Success = Extract<CallOutcome, { ok: true }>;
type Failure = Extract<CallOutcome, { ok: false }>;

const MODEL = 'claude-sonnet-5-5';
const API_KEY = 'sk-ant-test-never-echoed';

const PERSON = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 2, maxLength: 20 },
    age: { type: 'integer', minimum: 0, maximum: 120 },
    tags: { type: 'array', items: { type: 'string', enum: ['a', 'b', 'c'] }, maxItems: 3 },
    active: { type: 'boolean' },
  },
  required: ['name', 'age', 'tags', 'active'],
  additionalProperties: false,
};
const PERSON_FORMAT: ResponseFormat = {
  type: 'json_schema',
  json_schema: { name: 'record_person', description: 'Record one person', schema: PERSON },
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function asSuccess(o: CallOutcome | ProviderResultLine): Success {
  assert.equal(o.ok, true, JSON.stringify(o));
  return o as Success;
}
function asFailure(o: CallOutcome | ProviderResultLine): Failure {
  assert.equal(o.ok, false, JSON.stringify(o));
  return o as Failure;
}

/** A Message with the fields the decoder reads; the rest as the API sends them. */
function message(content: unknown[], over: { stop_reason?: string; usage?: Record<string, unknown> } = {}): Message {
  return {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: MODEL,
    content,
    stop_reason: over.stop_reason ?? 'end_turn',
    stop_sequence: null,
    usage: {
      input_tokens: 100,
      output_tokens: 20,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation: null,
      server_tool_use: null,
      service_tier: 'standard',
      inference_geo: null,
      output_tokens_details: null,
      ...over.usage,
    },
  } as unknown as Message;
}

function batchRequests(n: number, format?: ResponseFormat, prefix = ''): BatchRequest[] {
  return Array.from({ length: n }, (_, i) => {
    const request: ChatRequest = {
      model: MODEL,
      messages: [
        { role: 'system', content: 'Extract the person.' },
        { role: 'user', content: `Record ${prefix}${i}: Ada Lovelace, 36, mathematician.` },
      ],
      max_output_tokens: 512,
    };
    if (format) request.response_format = format;
    return { customId: String(i), request };
  });
}

async function waitTerminal(provider: AnthropicBatchProvider, id: string, timeoutMs = 10_000): Promise<ProviderBatchStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await provider.retrieve(id);
    if (s.terminal) return s;
    if (Date.now() > deadline) throw new Error(`batch ${id} still ${s.state} after ${timeoutMs} ms`);
    await sleep(25);
  }
}

async function collect(provider: AnthropicBatchProvider, id: string): Promise<ProviderResultLine[]> {
  const out: ProviderResultLine[] = [];
  for await (const line of provider.results(id)) out.push(line);
  return out;
}

// -------------------------------------------------------------------------------------------------

describe('encodeAnthropicParams', () => {
  test('hoists system messages, keeps user/assistant order, defaults max_tokens, sends no sampling knobs', () => {
    const params = encodeAnthropicParams({
      model: MODEL,
      messages: [
        { role: 'system', content: 'Be terse.' },
        { role: 'user', content: 'Hi' },
        { role: 'system', content: [{ type: 'text', text: 'Answer in French.' }] },
        { role: 'assistant', content: 'Bonjour' },
        { role: 'user', content: 'Again' },
        { role: 'user', content: 'And again' },
      ],
    });
    assert.deepEqual(params, {
      model: MODEL,
      max_tokens: DEFAULT_MAX_TOKENS,
      system: [
        { type: 'text', text: 'Be terse.', cache_control: { type: 'ephemeral' } },
        { type: 'text', text: 'Answer in French.' },
      ],
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Bonjour' },
        { role: 'user', content: 'Again' },
        { role: 'user', content: 'And again' },
      ],
    });
    for (const k of ['temperature', 'top_p', 'top_k', 'tools', 'tool_choice']) assert.ok(!(k in params), k);
    assert.equal(encodeAnthropicParams({ model: MODEL, messages: [{ role: 'user', content: 'x' }], max_output_tokens: 77 }).max_tokens, 77);
  });

  test('content parts: text, images by url and base64, pdf by data and url, text documents with title and citations', () => {
    const request: ChatRequest = {
      model: MODEL,
      citations: true,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Look:' },
            { type: 'image', url: 'https://example.com/a.png' },
            { type: 'image', data: 'iVBORw0KGgo=', media_type: 'image/png' },
            { type: 'document', media_type: 'application/pdf', data: 'JVBERi0=', title: 'Report' },
            { type: 'document', media_type: 'application/pdf', url: 'https://example.com/r.pdf' },
            { type: 'document', media_type: 'text/plain', text: 'The sky is blue.', title: 'Notes' },
          ],
        },
      ],
    };
    const [m] = encodeAnthropicParams(request).messages;
    assert.deepEqual(m, {
      role: 'user',
      content: [
        { type: 'text', text: 'Look:' },
        { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
        {
          type: 'document',
          source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' },
          title: 'Report',
          citations: { enabled: true },
        },
        { type: 'document', source: { type: 'url', url: 'https://example.com/r.pdf' }, citations: { enabled: true } },
        {
          type: 'document',
          source: { type: 'text', media_type: 'text/plain', data: 'The sky is blue.' },
          title: 'Notes',
          citations: { enabled: true },
        },
      ],
    });
    const plain = encodeAnthropicParams({ ...request, citations: false }).messages[0]!.content as unknown as Array<Record<string, unknown>>;
    assert.ok(plain.every((b) => !('citations' in b)));
  });

  test('a JSON schema becomes one forced tool', () => {
    const params = encodeAnthropicParams({ model: MODEL, messages: [{ role: 'user', content: 'x' }], response_format: PERSON_FORMAT });
    assert.deepEqual(params.tools, [{ name: 'record_person', description: 'Record one person', input_schema: PERSON }]);
    assert.deepEqual(params.tool_choice, { type: 'tool', name: 'record_person' });
    const strict = encodeAnthropicParams({
      model: MODEL,
      messages: [{ role: 'user', content: 'x' }],
      response_format: { type: 'json_schema', json_schema: { name: 'p', schema: PERSON, strict: true } },
    });
    // Never strict: Anthropic's strict tools refuse keywords (minimum, maximum) OpenAI accepts.
    assert.deepEqual(strict.tools, [{ name: 'p', input_schema: PERSON }]);
    assert.ok(
      !('tools' in encodeAnthropicParams({ model: MODEL, messages: [{ role: 'user', content: 'x' }], response_format: { type: 'text' } })),
    );
  });
});

describe('anthropicOutcome and result lines', () => {
  test('text blocks are joined; usage maps cache reads and writes into input tokens', () => {
    const out = asSuccess(
      anthropicOutcome(
        message(
          [
            { type: 'text', text: 'Hello, ', citations: null },
            { type: 'text', text: 'world.', citations: null },
          ],
          {
            usage: {
              input_tokens: 100,
              cache_read_input_tokens: 40,
              cache_creation_input_tokens: 10,
              output_tokens: 20,
              output_tokens_details: { thinking_tokens: 5 },
            },
          },
        ),
      ),
    );
    assert.deepEqual(out, {
      ok: true,
      text: 'Hello, world.',
      truncated: false,
      usage: { input_tokens: 150, cached_input_tokens: 40, output_tokens: 20, reasoning_tokens: 5, cache_write_input_tokens: 10 },
    });
  });

  test('tool_use input comes back as JSON text; max_tokens means truncated', () => {
    const input = { name: 'Ada', age: 36, tags: ['a'], active: true };
    const out = asSuccess(
      anthropicOutcome(message([{ type: 'tool_use', id: 'toolu_1', name: 'record_person', input }], { stop_reason: 'tool_use' })),
    );
    assert.deepEqual(JSON.parse(out.text), input);
    assert.equal(out.truncated, false);
    assert.equal(
      asSuccess(anthropicOutcome(message([{ type: 'text', text: 'cut', citations: null }], { stop_reason: 'max_tokens' }))).truncated,
      true,
    );
  });

  test('citations of every text block are collected; refusal is a non-retryable failure', () => {
    const c1 = {
      type: 'char_location',
      cited_text: 'The sky is blue.',
      document_index: 0,
      document_title: 'Notes',
      start_char_index: 0,
      end_char_index: 16,
      file_id: null,
    };
    const c2 = {
      type: 'page_location',
      cited_text: 'Page two.',
      document_index: 1,
      document_title: null,
      start_page_number: 2,
      end_page_number: 3,
      file_id: null,
    };
    const out = asSuccess(
      anthropicOutcome(
        message([
          { type: 'text', text: 'Per the notes: ', citations: null },
          { type: 'text', text: 'the sky is blue', citations: [c1] },
          { type: 'text', text: ' and page two', citations: [c2] },
        ]),
      ),
    );
    assert.deepEqual(out.citations, [c1, c2]);
    const refused = asFailure(anthropicOutcome(message([], { stop_reason: 'refusal' })));
    assert.equal(refused.error.code, 'refusal');
    assert.equal(refused.retryable, false);
    assert.equal(refused.usage?.input_tokens, 100);
  });

  test('errored, canceled and expired result lines', () => {
    const line = (result: unknown) => anthropicResultLine({ custom_id: '7', result } as MessageBatchIndividualResponse);
    const invalid = asFailure(
      line({ type: 'errored', error: { type: 'error', error: { type: 'invalid_request_error', message: 'bad' }, request_id: 'r' } }),
    );
    assert.deepEqual(invalid, {
      customId: '7',
      ok: false,
      retryable: false,
      usage: null,
      error: { code: 'invalid_request_error', message: 'bad', status_code: 400 },
    });
    const overloaded = asFailure(
      line({ type: 'errored', error: { type: 'error', error: { type: 'overloaded_error', message: 'busy' }, request_id: 'r' } }),
    );
    assert.equal(overloaded.retryable, true);
    assert.equal(overloaded.error.status_code, 529);
    assert.deepEqual(asFailure(line({ type: 'canceled' })).error.code, 'batch_cancelled');
    assert.equal(asFailure(line({ type: 'canceled' })).retryable, true);
    assert.deepEqual(asFailure(line({ type: 'expired' })).error.code, 'batch_expired');
    assert.equal(asFailure(line({ type: 'expired' })).retryable, true);
  });

  test('batch state rule', () => {
    const counts = (o: Partial<Record<'processing' | 'succeeded' | 'errored' | 'canceled' | 'expired', number>>) => ({
      processing: 0,
      succeeded: 0,
      errored: 0,
      canceled: 0,
      expired: 0,
      ...o,
    });
    assert.equal(
      anthropicBatchState({ processing_status: 'in_progress', cancel_initiated_at: null, request_counts: counts({ processing: 3 }) }),
      'in_progress',
    );
    assert.equal(
      anthropicBatchState({ processing_status: 'canceling', cancel_initiated_at: 'x', request_counts: counts({ processing: 3 }) }),
      'cancelling',
    );
    assert.equal(
      anthropicBatchState({ processing_status: 'ended', cancel_initiated_at: null, request_counts: counts({ succeeded: 2, errored: 1 }) }),
      'completed',
    );
    assert.equal(
      anthropicBatchState({ processing_status: 'ended', cancel_initiated_at: 'x', request_counts: counts({ succeeded: 3 }) }),
      'cancelled',
    );
    assert.equal(
      anthropicBatchState({ processing_status: 'ended', cancel_initiated_at: null, request_counts: counts({ succeeded: 1, expired: 2 }) }),
      'expired',
    );
  });
});

// -------------------------------------------------------------------------------------------------

describe('Anthropic provider against the emulator', () => {
  let emulator: Emulator;
  let batch: AnthropicBatchProvider;
  let realtime: AnthropicRealtimeProvider;
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  const validPerson = ajv.compile(PERSON);

  before(async () => {
    emulator = await startEmulator({ processingMs: 150 });
    const client = createAnthropicClient({ apiKey: API_KEY, baseURL: emulator.anthropicBaseURL });
    batch = new AnthropicBatchProvider(client);
    realtime = new AnthropicRealtimeProvider(client);
  });
  after(async () => emulator.close());
  beforeEach(() => emulator.reset());

  test('a JSON-schema batch runs to completion: every custom id once, conforming JSON, usage', async () => {
    const jobKey = 'batch-1:0:1';
    const requests = batchRequests(20, PERSON_FORMAT);
    assert.equal(await batch.stageInput(jobKey, requests), null);
    const id = await batch.createBatch(jobKey, requests, null);
    assert.match(id, /^msgbatch_/);
    assert.equal(emulator.stats().batches_by_key[jobKey], 1);
    assert.equal(emulator.stats().anthropic.requests_received, 20);

    const first = await batch.retrieve(id);
    // A busy machine may let the emulator finish before this first look.
    assert.ok(['in_progress', 'completed'].includes(first.state), first.state);
    assert.equal(first.counts.total, 20);
    const done = await waitTerminal(batch, id);
    assert.deepEqual(done, { id, state: 'completed', terminal: true, counts: { total: 20, completed: 20, failed: 0 } });

    const lines = await collect(batch, id);
    assert.deepEqual(
      lines.map((l) => l.customId).sort((a, b) => Number(a) - Number(b)),
      requests.map((r) => r.customId),
    );
    for (const line of lines) {
      const ok = asSuccess(line);
      const value: unknown = JSON.parse(ok.text);
      assert.ok(validPerson(value), JSON.stringify(validPerson.errors));
      assert.ok(ok.usage.input_tokens > 0 && ok.usage.output_tokens > 0, JSON.stringify(ok.usage));
      assert.equal(ok.truncated, false);
    }
  });

  test('findBatch: the one batch of that size since createdAfter, else null', async () => {
    const createdAfter = new Date();
    assert.equal(await batch.findBatch('k', { createdAfter, requestCount: 5 }), null);
    const a = await batch.createBatch('k-a', batchRequests(5), null);
    await batch.createBatch('k-b', batchRequests(3), null);
    assert.equal(await batch.findBatch('k-a', { createdAfter, requestCount: 5 }), a);
    assert.equal(await batch.findBatch('k-a', { createdAfter, requestCount: 4 }), null);
    // Batches created before the window (here: the window starts an hour from now) are not seen.
    assert.equal(await batch.findBatch('k-a', { createdAfter: new Date(Date.now() + 3600_000), requestCount: 5 }), null);
    await batch.createBatch('k-c', batchRequests(5, undefined, 'c'), null);
    assert.equal(await batch.findBatch('k-a', { createdAfter, requestCount: 5 }), null, 'two batches of 5: ambiguous');
    // Still found after it ended (the counts then sum the outcomes).
    await waitTerminal(batch, a);
    assert.equal((await batch.findBatch('k-b', { createdAfter, requestCount: 3 })) !== null, true);
    assert.deepEqual(emulator.stats().batches_by_key, { 'k-a': 1, 'k-b': 1, 'k-c': 1 });
  });

  test('cancel part-way: cancelled, with some successes and retryable batch_cancelled failures', async () => {
    emulator.setFaults({ processing_ms: 2000 });
    const id = await batch.createBatch('k-cancel', batchRequests(20), null);
    await sleep(600);
    await batch.cancel(id);
    const cancelling = await batch.retrieve(id);
    assert.ok(cancelling.state === 'cancelling' || cancelling.state === 'cancelled', cancelling.state);
    const done = await waitTerminal(batch, id);
    assert.equal(done.state, 'cancelled');
    const lines = await collect(batch, id);
    assert.equal(lines.length, 20);
    const succeeded = lines.filter((l) => l.ok);
    const cancelled = lines.filter((l) => !l.ok && l.error.code === 'batch_cancelled');
    assert.ok(succeeded.length > 0, 'some requests finished before the cancel');
    assert.ok(cancelled.length > 0, 'some requests were cancelled');
    assert.equal(succeeded.length + cancelled.length, 20);
    assert.ok(cancelled.every((l) => !l.ok && l.retryable));
    assert.equal(done.counts.completed, succeeded.length);
    // Cancelling an ended batch is a no-op, not an error.
    await batch.cancel(id);
  });

  test('line errors come back as retryable errored results', async () => {
    emulator.setFaults({ line_errors: { every: 3 } });
    const id = await batch.createBatch('k-errors', batchRequests(9), null);
    const done = await waitTerminal(batch, id);
    assert.equal(done.state, 'completed');
    assert.deepEqual(done.counts, { total: 9, completed: 6, failed: 3 });
    const failed = (await collect(batch, id)).filter((l) => !l.ok).map((l) => asFailure(l));
    assert.equal(failed.length, 3);
    for (const f of failed) {
      assert.equal(f.retryable, true);
      assert.equal(f.error.code, 'api_error');
      assert.equal(f.error.status_code, 500);
    }
  });

  test('an expiring batch ends expired with retryable batch_expired lines', async () => {
    emulator.setFaults({ batch_expire: { count: 1, after_fraction: 0.5 } });
    const id = await batch.createBatch('k-expire', batchRequests(10), null);
    const done = await waitTerminal(batch, id);
    assert.equal(done.state, 'expired');
    const lines = await collect(batch, id);
    const expired = lines.filter((l) => !l.ok && l.error.code === 'batch_expired');
    assert.equal(expired.length, 5);
    assert.ok(expired.every((l) => !l.ok && l.retryable));
  });

  test('realtime: text and JSON schema', async () => {
    const text = asSuccess(
      await realtime.complete({
        model: MODEL,
        messages: [
          { role: 'system', content: 'Be nice.' },
          { role: 'user', content: 'Hello there' },
        ],
      }),
    );
    assert.match(text.text, /Hello there/);
    assert.ok(text.usage.input_tokens > 0);
    const json = asSuccess(
      await realtime.complete({ model: MODEL, messages: [{ role: 'user', content: 'Ada, 36' }], response_format: PERSON_FORMAT }),
    );
    assert.ok(validPerson(JSON.parse(json.text)), JSON.stringify(validPerson.errors));
    assert.equal(emulator.stats().anthropic.messages, 2);
  });

  test('realtime: multimodal parts are accepted and counted', async () => {
    const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n2 0 obj << /Type /Page >> endobj\n%%EOF').toString('base64');
    const out = asSuccess(
      await realtime.complete({
        model: MODEL,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Describe these.' },
              { type: 'image', url: 'https://example.com/cat.png' },
              { type: 'document', media_type: 'application/pdf', data: pdf, title: 'Two pages' },
            ],
          },
        ],
      }),
    );
    // 1,500 a PDF page and 1,600 an image of unknown size in the emulator.
    assert.ok(out.usage.input_tokens >= 2 * 1500 + 1600, String(out.usage.input_tokens));
  });

  test('realtime: citations on a text document point into it', async () => {
    const doc = 'The Eiffel Tower is in Paris. It was finished in 1889. It is 330 metres tall.';
    const request: ChatRequest = {
      model: MODEL,
      citations: true,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'document', media_type: 'text/plain', text: doc, title: 'Tower' },
            { type: 'text', text: 'When was it finished?' },
          ],
        },
      ],
    };
    const out = asSuccess(await realtime.complete(request));
    assert.ok(out.citations && out.citations.length > 0, JSON.stringify(out));
    for (const c of out.citations) {
      assert.equal(c.type, 'char_location');
      assert.equal(c.document_title, 'Tower');
      assert.equal(doc.slice(c.start_char_index as number, c.end_char_index as number), c.cited_text);
    }
    assert.ok(out.text.includes(out.citations[0]!.cited_text!));
    const plain = asSuccess(await realtime.complete({ ...request, citations: false }));
    assert.equal(plain.citations, undefined);
  });

  test('429 with retry-after → ProviderRateLimited; 400 → ProviderInvalidRequest; connection error → ProviderUnavailable', async () => {
    emulator.setFaults({ http: [{ path: '/v1/messages', status: 429, count: 1, retry_after_s: 3 }] });
    const rateLimited = await realtime.complete({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }).then(
      () => assert.fail('expected a 429'),
      (e: unknown) => e,
    );
    const info = realtime.classifyError(rateLimited);
    assert.equal(info?.type, 'ProviderRateLimited');
    assert.equal(info?.retryable, true);
    assert.equal(info?.retryAfterMs, 3000);
    assert.equal(info?.status, 429);
    assert.ok(!info?.message.includes(API_KEY));

    // No user or assistant message at all: the API refuses the body.
    const invalid = await realtime.complete({ model: MODEL, messages: [{ role: 'system', content: 'only a system prompt' }] }).then(
      () => assert.fail('expected a 400'),
      (e: unknown) => e,
    );
    assert.deepEqual(
      { ...batch.classifyError(invalid), message: undefined },
      { type: 'ProviderInvalidRequest', retryable: false, status: 400, message: undefined },
    );

    emulator.setFaults({ http: [{ path: '/v1/messages/batches', status: 529, count: 1, retry_after_s: 1 }] });
    const overloaded = await batch.createBatch('k-529', batchRequests(2), null).then(
      () => assert.fail('expected a 529'),
      (e: unknown) => e,
    );
    assert.deepEqual(
      { ...classifyAnthropicError(overloaded), message: undefined },
      { type: 'ProviderUnavailable', retryable: true, status: 529, retryAfterMs: 1000, message: undefined },
    );
    assert.equal(emulator.stats().anthropic.batches_created, 0);

    const offline = new AnthropicRealtimeProvider(createAnthropicClient({ apiKey: API_KEY, baseURL: 'http://127.0.0.1:1' }));
    const unreachable = await offline.complete({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }).then(
      () => assert.fail('expected a connection error'),
      (e: unknown) => e,
    );
    assert.ok(unreachable instanceof APIConnectionError);
    assert.equal(classifyAnthropicError(unreachable)?.type, 'ProviderUnavailable');
    assert.equal(classifyAnthropicError(new Error('not the SDK')), null);
  });
});
