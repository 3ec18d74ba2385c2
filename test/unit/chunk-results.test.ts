import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodeChunk, toResult } from '../../activities/chunks.js';
import type { PromptSpec } from '../../domain/batch-spec.js';
import { MissingPlaceholderError } from '../../domain/template.js';
import type { Usage } from '../../domain/usage.js';
import type { BatchProvider, ChatRequest, ProviderResultLine } from '../../providers/types.js';

const usage: Usage = { input_tokens: 3, cached_input_tokens: 1, output_tokens: 5, reasoning_tokens: 0 };
const okLine = (text: string, truncated = false): ProviderResultLine => ({ customId: '0', ok: true, text, usage, truncated });
const failLine = (retryable: boolean, u: Usage | null = null): ProviderResultLine => ({ customId: '0', ok: false, retryable, usage: u, error: { code: 'server_error', message: 'boom', status_code: 500 } });

describe('toResult', () => {
  test('text output succeeds as-is, even when it looks like JSON', () => {
    assert.deepEqual(toResult(4, okLine('{"a":1}'), false, { final: false }), { seq: 4, status: 'succeeded', output: '{"a":1}', error: null, usage });
  });

  test('text output that was truncated still succeeds (only JSON outputs are checked)', () => {
    assert.equal(toResult(4, okLine('cut off', true), false, { final: false }).status, 'succeeded');
  });

  test('JSON output is parsed', () => {
    assert.deepEqual(toResult(9, okLine('{"answer":"yes","n":[1,2]}'), true, { final: false }), { seq: 9, status: 'succeeded', output: { answer: 'yes', n: [1, 2] }, error: null, usage });
  });

  test('invalid JSON is pending when not final, failed on the final attempt', () => {
    const pending = toResult(2, okLine('{"answer": "ye'), true, { final: false });
    assert.equal(pending.status, 'pending');
    assert.equal(pending.output, null);
    assert.equal(pending.error?.code, 'invalid_json');
    assert.match(pending.error!.message, /not valid JSON \(14 chars\)/);
    assert.deepEqual(pending.usage, usage, 'the tokens were spent: usage is kept');
    assert.equal(toResult(2, okLine('{"answer": "ye'), true, { final: true }).status, 'failed');
  });

  test('invalid JSON from a truncated output is output_truncated', () => {
    const r = toResult(2, okLine('{"answer": "ye', true), true, { final: true });
    assert.deepEqual(r.error?.code, 'output_truncated');
    assert.equal(r.status, 'failed');
  });

  test('truncated output that still parses succeeds', () => {
    const r = toResult(2, okLine('{"a":1}', true), true, { final: false });
    assert.equal(r.status, 'succeeded');
    assert.deepEqual(r.output, { a: 1 });
  });

  test('empty JSON output is invalid_json', () => {
    assert.equal(toResult(1, okLine(''), true, { final: false }).error?.code, 'invalid_json');
  });

  test('retryable failure: pending unless final', () => {
    const line = failLine(true);
    assert.deepEqual(toResult(5, line, false, { final: false }), { seq: 5, status: 'pending', output: null, error: { code: 'server_error', message: 'boom', status_code: 500 }, usage: null });
    assert.equal(toResult(5, line, false, { final: true }).status, 'failed');
    assert.equal(toResult(5, line, true, { final: false }).status, 'pending');
  });

  test('non-retryable failure is failed even when not final, keeping its usage', () => {
    const r = toResult(6, failLine(false, usage), true, { final: false });
    assert.equal(r.status, 'failed');
    assert.deepEqual(r.usage, usage);
    assert.deepEqual(r.error, { code: 'server_error', message: 'boom', status_code: 500 });
    assert.equal(toResult(6, failLine(false), false, { final: false }).status, 'failed');
  });
});

describe('encodeChunk', () => {
  /** Records what encodeChunk asks the provider to encode. */
  function recordingProvider(): { provider: BatchProvider; calls: Array<[string, ChatRequest]> } {
    const calls: Array<[string, ChatRequest]> = [];
    const unused = () => {
      throw new Error('not used in this test');
    };
    const provider: BatchProvider = {
      name: 'openai',
      encodeLine: (id, req) => {
        calls.push([id, req]);
        return `line:${id}`;
      },
      uploadInput: unused,
      findBatch: unused,
      createBatch: unused,
      retrieve: unused,
      results: unused,
      cancel: unused,
      classifyError: () => null,
    };
    return { provider, calls };
  }

  test('one line per item, custom_id is the seq as a string, trailing newline', () => {
    const { provider } = recordingProvider();
    const buf = encodeChunk(provider, { model: 'm' }, [
      { seq: 10, input: { content: 'a' } },
      { seq: 11, input: { content: 'b' } },
      { seq: 13, input: { content: 'c' } },
    ]);
    assert.ok(Buffer.isBuffer(buf));
    assert.equal(buf.toString('utf8'), 'line:10\nline:11\nline:13\n');
  });

  test('requests carry the model, rendered messages and only the options that are set', () => {
    const { provider, calls } = recordingProvider();
    encodeChunk(provider, { model: 'gpt-4o', system_prompt: 'S', user_prompt_template: 'Q: {q}' }, [{ seq: 0, input: { inputs: { q: 'x' } } }]);
    assert.deepEqual(calls, [
      [
        '0',
        {
          model: 'gpt-4o',
          messages: [
            { role: 'system', content: 'S' },
            { role: 'user', content: 'Q: x' },
          ],
        },
      ],
    ]);
  });

  test('response_format and max_output_tokens are passed on', () => {
    const { provider, calls } = recordingProvider();
    const spec: PromptSpec = { model: 'm', response_format: { type: 'json_schema', json_schema: { name: 'o', schema: { type: 'object' } } }, max_output_tokens: 64 };
    encodeChunk(provider, spec, [{ seq: 1, input: { content: 'c' } }]);
    assert.deepEqual(calls[0]![1].response_format, spec.response_format);
    assert.equal(calls[0]![1].max_output_tokens, 64);
  });

  test('a missing placeholder surfaces as MissingPlaceholderError', () => {
    const { provider } = recordingProvider();
    assert.throws(() => encodeChunk(provider, { model: 'm', user_prompt_template: '{q}' }, [{ seq: 0, input: { content: 'x' } }]), MissingPlaceholderError);
  });
});
