import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { toBatchRequests, toResult, withRepair } from '../../activities/chunks.js';
import type { Usage } from '../../domain/usage.js';
import { DEFAULT_OUTPUT_CEILING } from '../../domain/estimate.js';
import type { ProviderResultLine } from '../../providers/types.js';

const usage: Usage = { input_tokens: 3, cached_input_tokens: 1, output_tokens: 5, reasoning_tokens: 0 };
const okLine = (text: string, truncated = false): ProviderResultLine => ({ customId: '0', ok: true, text, usage, truncated });
/** Any JSON object passes this schema: these tests are about parsing, not validation. */
const ANY: Record<string, unknown> = { type: 'object' };
const failLine = (retryable: boolean, u: Usage | null = null): ProviderResultLine => ({
  customId: '0',
  ok: false,
  retryable,
  usage: u,
  error: { code: 'server_error', message: 'boom', status_code: 500 },
});

describe('toResult', () => {
  test('text output succeeds as-is, even when it looks like JSON', () => {
    assert.deepEqual(toResult(4, okLine('{"a":1}'), null, { final: false }), {
      seq: 4,
      status: 'succeeded',
      output: '{"a":1}',
      error: null,
      usage,
      path: 'batch',
    });
  });

  test('text output that was truncated still succeeds (only JSON outputs are checked)', () => {
    assert.equal(toResult(4, okLine('cut off', true), null, { final: false }).status, 'succeeded');
  });

  test('JSON output is parsed', () => {
    assert.deepEqual(toResult(9, okLine('{"answer":"yes","n":[1,2]}'), ANY, { final: false }), {
      seq: 9,
      status: 'succeeded',
      output: { answer: 'yes', n: [1, 2] },
      error: null,
      usage,
      path: 'batch',
    });
  });

  test('invalid JSON is pending when not final, failed on the final attempt', () => {
    const pending = toResult(2, okLine('{"answer": "ye'), ANY, { final: false });
    assert.equal(pending.status, 'pending');
    assert.equal(pending.output, null);
    assert.equal(pending.error?.code, 'invalid_json');
    assert.match(pending.error!.message, /not valid JSON \(14 chars\)/);
    assert.deepEqual(pending.usage, usage, 'the tokens were spent: usage is kept');
    assert.equal(toResult(2, okLine('{"answer": "ye'), ANY, { final: true }).status, 'failed');
  });

  test('invalid JSON from a truncated output is output_truncated, and fails at once: resending would be cut off again', () => {
    const r = toResult(2, okLine('{"answer": "ye', true), ANY, { final: false });
    assert.deepEqual(r.error?.code, 'output_truncated');
    assert.equal(r.status, 'failed');
    assert.match(r.error?.message ?? '', /raise max_output_tokens/);
    assert.equal(toResult(2, okLine('{"answer": "ye', false), ANY, { final: false }).status, 'pending', 'plain invalid JSON is repaired');
  });

  test('truncated output that still parses succeeds', () => {
    const r = toResult(2, okLine('{"a":1}', true), ANY, { final: false });
    assert.equal(r.status, 'succeeded');
    assert.deepEqual(r.output, { a: 1 });
  });

  test('empty JSON output is invalid_json', () => {
    assert.equal(toResult(1, okLine(''), ANY, { final: false }).error?.code, 'invalid_json');
  });

  test('retryable failure: pending unless final', () => {
    const line = failLine(true);
    assert.deepEqual(toResult(5, line, null, { final: false }), {
      seq: 5,
      status: 'pending',
      output: null,
      error: { code: 'server_error', message: 'boom', status_code: 500 },
      usage: null,
      path: 'batch',
    });
    assert.equal(toResult(5, line, null, { final: true }).status, 'failed');
    assert.equal(toResult(5, line, ANY, { final: false }).status, 'pending');
  });

  test('non-retryable failure is failed even when not final, keeping its usage', () => {
    const r = toResult(6, failLine(false, usage), ANY, { final: false });
    assert.equal(r.status, 'failed');
    assert.deepEqual(r.usage, usage);
    assert.deepEqual(r.error, { code: 'server_error', message: 'boom', status_code: 500 });
    assert.equal(toResult(6, failLine(false), null, { final: false }).status, 'failed');
  });
});

describe('toResult with a schema', () => {
  const schema = { type: 'object', properties: { label: { enum: ['a', 'b'] } }, required: ['label'], additionalProperties: false };

  test('a JSON answer that breaks the schema keeps the errors and the raw answer for the repair prompt', () => {
    const r = toResult(3, okLine('{"label":"c"}'), schema, { final: false });
    assert.equal(r.status, 'pending');
    assert.equal(r.error?.code, 'schema_invalid');
    assert.match(r.error!.message, /does not match the schema/);
    assert.ok(
      r.error!.errors!.some((e) => /allowed values/.test(e) && /"a","b"/.test(e)),
      JSON.stringify(r.error),
    );
    assert.equal(r.error!.raw_output, '{"label":"c"}');
    assert.equal(toResult(3, okLine('{"label":"c"}'), schema, { final: true }).status, 'failed');
  });

  test('a conforming answer succeeds; realtime results say so', () => {
    const r = toResult(3, okLine('{"label":"a"}'), schema, { final: false }, 'realtime');
    assert.deepEqual([r.status, r.output, r.path], ['succeeded', { label: 'a' }, 'realtime']);
  });

  test('a stopping batch closes retryable failures as cancelled', () => {
    assert.equal(toResult(3, failLine(true), null, { final: false, stopping: true }).status, 'cancelled');
  });
});

describe('withRepair', () => {
  test('adds the previous answer and the errors as a repair turn', () => {
    const req = { model: 'm', messages: [{ role: 'user' as const, content: 'q' }] };
    const repaired = withRepair(req, {
      code: 'schema_invalid',
      message: 'x',
      errors: ['/label must be equal to one of the allowed values'],
      raw_output: '{"label":"c"}',
    });
    assert.equal(repaired.messages.length, 3);
    assert.deepEqual(repaired.messages[1], { role: 'assistant', content: '{"label":"c"}' });
    assert.match(String(repaired.messages[2]!.content), /did not match the required JSON schema:\n- \/label must be equal/);
    assert.equal(withRepair(req, { code: 'server_error', message: 'x' }), req, 'other failures are resent as they were');
    assert.equal(withRepair(req, null), req);
  });
});

describe('toBatchRequests', () => {
  test('one request per item, custom id is the seq as a string, in order', () => {
    const requests = toBatchRequests({ model: 'm' }, [
      { seq: 10, input: { content: 'a' } },
      { seq: 11, input: { content: 'b' } },
      { seq: 13, input: { content: 'c' } },
    ]);
    assert.deepEqual(
      requests.map((r) => r.customId),
      ['10', '11', '13'],
    );
  });

  test('requests carry the model, rendered messages, the output cap and only the options that are set', () => {
    const [r] = toBatchRequests({ model: 'gpt-4o', system_prompt: 'S', user_prompt_template: 'Q: {q}' }, [
      { seq: 0, input: { inputs: { q: 'x' } } },
    ]);
    assert.deepEqual(r!.request, {
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'S' },
        { role: 'user', content: 'Q: x' },
      ],
      // Nothing bounds a free-text answer but the ceiling, which every request carries.
      max_output_tokens: DEFAULT_OUTPUT_CEILING,
    });
    const [withOpts] = toBatchRequests({ model: 'm', max_output_tokens: 7, citations: true, response_format: { type: 'text' } }, [
      { seq: 1, input: { content: 'c' } },
    ]);
    assert.equal(withOpts!.request.max_output_tokens, 7);
    assert.equal(withOpts!.request.citations, true);
    assert.deepEqual(withOpts!.request.response_format, { type: 'text' });
  });

  test('attachments follow the rendered text in the user message', () => {
    const image = { type: 'image' as const, url: 'https://example.com/a.png' };
    const [r] = toBatchRequests({ model: 'm' }, [{ seq: 2, input: { content: 'Describe', attachments: [image] } }]);
    assert.deepEqual(r!.request.messages, [{ role: 'user', content: [{ type: 'text', text: 'Describe' }, image] }]);
  });
});
