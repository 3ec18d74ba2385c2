import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { APIConnectionError, APIError } from 'openai';
import { toBatchRequests } from '../../activities/chunks.js';
import type { PromptSpec, ResponseFormat } from '../../domain/batch-spec.js';
import { buildMessages } from '../../domain/prompt.js';
import { chunkLimits } from '../../domain/provider-catalog.js';
import {
  classifyOpenAIError,
  createOpenAIClient,
  encodeOpenAIBody,
  isRetryableStatus,
  OpenAIBatchProvider,
  openAIUsage,
  parseOutputLine,
} from '../../providers/openai.js';
import type { ProviderResultLine } from '../../providers/types.js';

type Failure = Extract<ProviderResultLine, { ok: false }>;
type Success = Extract<ProviderResultLine, { ok: true }>;

const ok200 = (customId: string, body: unknown) =>
  JSON.stringify({ id: 'batch_req_1', custom_id: customId, response: { status_code: 200, request_id: 'r', body }, error: null });
const usage = {
  prompt_tokens: 11,
  completion_tokens: 7,
  total_tokens: 18,
  prompt_tokens_details: { cached_tokens: 4 },
  completion_tokens_details: { reasoning_tokens: 2 },
};
const expectedUsage = { input_tokens: 11, cached_input_tokens: 4, output_tokens: 7, reasoning_tokens: 2 };

function asSuccess(line: ProviderResultLine): Success {
  assert.equal(line.ok, true, JSON.stringify(line));
  return line as Success;
}
function asFailure(line: ProviderResultLine): Failure {
  assert.equal(line.ok, false, JSON.stringify(line));
  return line as Failure;
}

describe('parseOutputLine', () => {
  test('200 with content: ok, text, usage, not truncated', () => {
    const line = ok200('42', {
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello!', refusal: null }, finish_reason: 'stop' }],
      usage,
    });
    assert.deepEqual(parseOutputLine(line), { customId: '42', ok: true, text: 'Hello!', usage: expectedUsage, truncated: false });
  });

  test('200 with finish_reason length is ok but truncated', () => {
    const r = asSuccess(parseOutputLine(ok200('1', { choices: [{ message: { content: 'partial' }, finish_reason: 'length' }], usage })));
    assert.equal(r.text, 'partial');
    assert.equal(r.truncated, true);
  });

  test('200 with null content (e.g. tool call) gives empty text', () => {
    const r = asSuccess(parseOutputLine(ok200('1', { choices: [{ message: { content: null }, finish_reason: 'stop' }] })));
    assert.equal(r.text, '');
    assert.deepEqual(r.usage, { input_tokens: 0, cached_input_tokens: 0, output_tokens: 0, reasoning_tokens: 0 });
  });

  test('200 with a refusal is a non-retryable failure that keeps usage', () => {
    const r = asFailure(
      parseOutputLine(
        ok200('7', { choices: [{ message: { content: null, refusal: "I can't help with that." }, finish_reason: 'stop' }], usage }),
      ),
    );
    assert.deepEqual(r, {
      customId: '7',
      ok: false,
      retryable: false,
      usage: expectedUsage,
      error: { code: 'refusal', message: "I can't help with that." },
    });
  });

  test('HTTP 500 line is retryable, with the provider error code and status', () => {
    const raw = JSON.stringify({
      custom_id: '3',
      response: { status_code: 500, body: { error: { message: 'The server had an error', type: 'server_error', code: null } } },
      error: null,
    });
    const r = asFailure(parseOutputLine(raw));
    assert.equal(r.retryable, true);
    assert.equal(r.usage, null);
    assert.deepEqual(r.error, { code: 'server_error', message: 'The server had an error', status_code: 500 });
  });

  test('HTTP 400 line is non-retryable and carries status_code', () => {
    const raw = JSON.stringify({
      custom_id: '4',
      response: { status_code: 400, body: { error: { message: 'Invalid model', type: 'invalid_request_error', code: 'model_not_found' } } },
      error: null,
    });
    const r = asFailure(parseOutputLine(raw));
    assert.equal(r.customId, '4');
    assert.equal(r.retryable, false);
    assert.deepEqual(r.error, { code: 'model_not_found', message: 'Invalid model', status_code: 400 });
  });

  test('HTTP 429 line is retryable', () => {
    const raw = JSON.stringify({
      custom_id: '4',
      response: { status_code: 429, body: { error: { message: 'slow down', code: 'rate_limit_exceeded' } } },
      error: null,
    });
    assert.equal(asFailure(parseOutputLine(raw)).retryable, true);
  });

  test('a non-200 line without an error body falls back to http_<status>', () => {
    const raw = JSON.stringify({ custom_id: '5', response: { status_code: 404, body: null }, error: null });
    assert.deepEqual(asFailure(parseOutputLine(raw)).error, { code: 'http_404', message: 'HTTP 404', status_code: 404 });
  });

  test('error line with response null (batch_expired) is retryable with no status_code', () => {
    const raw = JSON.stringify({
      id: 'x',
      custom_id: '9',
      response: null,
      error: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' },
    });
    assert.deepEqual(parseOutputLine(raw), {
      customId: '9',
      ok: false,
      retryable: true,
      usage: null,
      error: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' },
    });
  });

  test('error line without code or message', () => {
    const raw = JSON.stringify({ custom_id: '9', response: null, error: null });
    assert.deepEqual(asFailure(parseOutputLine(raw)).error, { code: 'unknown_error', message: 'unknown_error' });
  });

  test('invalid JSON throws', () => {
    assert.throws(() => parseOutputLine('{"custom_id": "1", '), SyntaxError);
  });
});

describe('openAIUsage', () => {
  test('maps OpenAI field names to Drover terms', () => {
    assert.deepEqual(openAIUsage(usage), expectedUsage);
  });

  test('missing fields and details are 0', () => {
    const zero = { input_tokens: 0, cached_input_tokens: 0, output_tokens: 0, reasoning_tokens: 0 };
    assert.deepEqual(openAIUsage(undefined), zero);
    assert.deepEqual(openAIUsage(null), zero);
    assert.deepEqual(openAIUsage({}), zero);
    assert.deepEqual(openAIUsage({ prompt_tokens: 5, completion_tokens: 2 }), { ...zero, input_tokens: 5, output_tokens: 2 });
    assert.deepEqual(openAIUsage({ prompt_tokens_details: null, completion_tokens_details: {} }), zero);
  });
});

describe('isRetryableStatus', () => {
  test('408, 409 and 429 are retryable', () => {
    for (const s of [408, 409, 429]) assert.equal(isRetryableStatus(s), true, String(s));
  });

  test('5xx are retryable', () => {
    for (const s of [500, 502, 503, 504, 599]) assert.equal(isRetryableStatus(s), true, String(s));
  });

  test('other 4xx are not', () => {
    for (const s of [400, 401, 403, 404, 405, 410, 413, 415, 422, 499]) assert.equal(isRetryableStatus(s), false, String(s));
  });
});

describe('classifyOpenAIError', () => {
  const generate = (status: number, headers: Record<string, string> = {}) =>
    APIError.generate(status, { error: { message: 'm' } }, undefined, new Headers(headers));

  test('429 is ProviderRateLimited with retry-after seconds in ms', () => {
    const info = classifyOpenAIError(generate(429, { 'retry-after': '3' }));
    assert.ok(info);
    assert.equal(info.type, 'ProviderRateLimited');
    assert.equal(info.retryable, true);
    assert.equal(info.status, 429);
    assert.equal(info.retryAfterMs, 3000);
    assert.match(info.message, /^OpenAI: 429 .*m/);
  });

  test('retry-after-ms is preferred over retry-after', () => {
    assert.equal(classifyOpenAIError(generate(429, { 'retry-after': '3', 'retry-after-ms': '1500' }))?.retryAfterMs, 1500);
  });

  test('fractional retry-after seconds are honoured', () => {
    assert.equal(classifyOpenAIError(generate(429, { 'retry-after': '0.5' }))?.retryAfterMs, 500);
  });

  test('an HTTP-date retry-after is converted to a delay from now', () => {
    const info = classifyOpenAIError(generate(429, { 'retry-after': new Date(Date.now() + 30_000).toUTCString() }));
    assert.ok(info?.retryAfterMs !== undefined);
    // toUTCString drops milliseconds: the delay is between 29 and 30 seconds.
    assert.ok(info.retryAfterMs > 28_000 && info.retryAfterMs <= 30_000, String(info.retryAfterMs));
  });

  test('without a usable retry-after there is no retryAfterMs', () => {
    const cases: Array<Record<string, string>> = [{}, { 'retry-after': 'soon' }, { 'retry-after-ms': 'abc' }];
    for (const headers of cases) {
      const info = classifyOpenAIError(generate(429, headers));
      assert.equal(info?.type, 'ProviderRateLimited');
      assert.equal('retryAfterMs' in info!, false, JSON.stringify(headers));
    }
  });

  test('a non-positive retry-after-ms falls back to retry-after', () => {
    assert.equal(classifyOpenAIError(generate(429, { 'retry-after-ms': '0', 'retry-after': '2' }))?.retryAfterMs, 2000);
  });

  test('401 and 403 are ProviderAuthentication, non-retryable', () => {
    for (const s of [401, 403]) {
      const info = classifyOpenAIError(generate(s));
      assert.deepEqual(info && { type: info.type, retryable: info.retryable, status: info.status }, {
        type: 'ProviderAuthentication',
        retryable: false,
        status: s,
      });
    }
  });

  test('400, 404 and 422 are ProviderInvalidRequest, non-retryable', () => {
    for (const s of [400, 404, 422]) {
      const info = classifyOpenAIError(generate(s));
      assert.deepEqual(info && { type: info.type, retryable: info.retryable, status: info.status }, {
        type: 'ProviderInvalidRequest',
        retryable: false,
        status: s,
      });
    }
  });

  test('503, 500, 408 and 409 are ProviderUnavailable, retryable', () => {
    for (const s of [503, 500, 408, 409]) {
      const info = classifyOpenAIError(generate(s));
      assert.deepEqual(info && { type: info.type, retryable: info.retryable, status: info.status }, {
        type: 'ProviderUnavailable',
        retryable: true,
        status: s,
      });
    }
  });

  test('a connection error is ProviderUnavailable, retryable, without status', () => {
    const info = classifyOpenAIError(new APIConnectionError({ message: 'x' }));
    assert.ok(info);
    assert.equal(info.type, 'ProviderUnavailable');
    assert.equal(info.retryable, true);
    assert.equal(info.status, undefined);
    assert.match(info.message, /unreachable: x/);
  });

  test('errors that are not the SDK’s are null', () => {
    assert.equal(classifyOpenAIError(new Error('boom')), null);
    assert.equal(classifyOpenAIError(Object.assign(new Error('fake'), { status: 429 })), null);
    assert.equal(classifyOpenAIError('string'), null);
    assert.equal(classifyOpenAIError(undefined), null);
  });

  test('the provider method delegates to the same classification', () => {
    const provider = new OpenAIBatchProvider(createOpenAIClient({ apiKey: 'x', baseURL: 'http://127.0.0.1:9/v1' }));
    assert.equal(provider.classifyError(generate(401))?.type, 'ProviderAuthentication');
    assert.equal(provider.classifyError(new Error('x')), null);
  });
});

describe('encodeOpenAIBody / encodeLine', () => {
  const messages = [
    { role: 'system' as const, content: 'S' },
    { role: 'user' as const, content: 'Q "é"\n' },
  ];
  const schema: ResponseFormat = {
    type: 'json_schema',
    json_schema: { name: 'out', strict: true, schema: { type: 'object', properties: { a: { type: 'string' } } } },
  };

  test('minimal body: model and messages only', () => {
    assert.deepEqual(encodeOpenAIBody({ model: 'gpt-4o', messages }), { model: 'gpt-4o', messages });
  });

  test('max_output_tokens becomes max_completion_tokens', () => {
    const body = encodeOpenAIBody({ model: 'gpt-4o', messages, max_output_tokens: 256 });
    assert.equal(body.max_completion_tokens, 256);
    assert.equal('max_output_tokens' in body, false);
    assert.equal('max_tokens' in body, false);
  });

  test('response_format passes through unchanged', () => {
    const body = encodeOpenAIBody({ model: 'gpt-4o', messages, response_format: schema });
    assert.deepEqual(body.response_format, schema);
    assert.deepEqual(encodeOpenAIBody({ model: 'm', messages, response_format: { type: 'text' } }).response_format, { type: 'text' });
  });

  test('encodeLine: one JSON line with custom_id, POST, /v1/chat/completions and the body', () => {
    const provider = new OpenAIBatchProvider(createOpenAIClient({ apiKey: 'x', baseURL: 'http://127.0.0.1:9/v1' }));
    assert.equal(provider.name, 'openai');
    const line = provider.encodeLine('17', { model: 'gpt-4o', messages, response_format: schema, max_output_tokens: 5 });
    assert.equal(line.includes('\n'), false, 'no raw newline inside the line');
    assert.equal(line.includes('\r'), false);
    assert.deepEqual(JSON.parse(line), {
      custom_id: '17',
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'gpt-4o', messages, response_format: schema, max_completion_tokens: 5 },
    });
  });
});

describe('OpenAI lines in chunk files', () => {
  test('lineOverhead covers the real OpenAI line envelope (line minus its messages, plus newline)', () => {
    const provider = new OpenAIBatchProvider(createOpenAIClient({ apiKey: 'x', baseURL: 'http://127.0.0.1:9/v1' }));
    const specs: PromptSpec[] = [
      { model: 'gpt-4.1-mini' },
      { model: 'openai-model-with-a-rather-long-name-2025-01-01', system_prompt: 'Be brief.' },
      { model: 'm', max_output_tokens: 1_000_000 },
      {
        model: 'gpt-4o',
        max_output_tokens: 4096,
        response_format: {
          type: 'json_schema',
          json_schema: {
            name: 'o',
            strict: true,
            schema: { type: 'object', properties: { a: { type: 'string', description: 'quote " and é' } } },
          },
        },
      },
      { model: 'gpt-4o', response_format: { type: 'text' } },
    ];
    for (const spec of specs) {
      const { lineOverhead } = chunkLimits('openai', 10, spec);
      const messages = buildMessages(spec, { content: 'hello "world" ünïcödé' });
      const messageBytes = Buffer.byteLength(JSON.stringify(messages));
      for (const seq of [0, 9_999_999, 999_999_999]) {
        const request = {
          model: spec.model,
          messages,
          ...(spec.response_format ? { response_format: spec.response_format } : {}),
          ...(spec.max_output_tokens ? { max_output_tokens: spec.max_output_tokens } : {}),
        };
        const lineBytes = Buffer.byteLength(provider.encodeLine(String(seq), request)) + 1;
        assert.ok(
          lineBytes - messageBytes <= lineOverhead,
          `${spec.model} seq ${seq}: envelope ${lineBytes - messageBytes} > lineOverhead ${lineOverhead}`,
        );
      }
    }
  });

  test('with the OpenAI provider: each line is valid JSON for its item, UTF-8 intact', () => {
    const provider = new OpenAIBatchProvider(createOpenAIClient({ apiKey: 'x', baseURL: 'http://127.0.0.1:9/v1' }));
    const items = [
      { seq: 0, input: { content: 'line one\nline two' } },
      { seq: 1, input: { messages: [{ role: 'user' as const, content: 'héllo 😀' }] } },
    ];
    const text = toBatchRequests({ model: 'gpt-4o', max_output_tokens: 10 }, items)
      .map((r) => provider.encodeLine(r.customId, r.request) + '\n')
      .join('');
    assert.ok(text.endsWith('\n'));
    const lines = text.slice(0, -1).split('\n');
    assert.equal(lines.length, 2, 'newlines inside content are escaped, not raw');
    const parsed = lines.map((l: string) => JSON.parse(l));
    assert.deepEqual(
      parsed.map((p: any) => [p.custom_id, p.body.messages, p.body.max_completion_tokens]),
      [
        ['0', [{ role: 'user', content: 'line one\nline two' }], 10],
        ['1', [{ role: 'user', content: 'héllo 😀' }], 10],
      ],
    );
  });
});
