import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encode } from 'gpt-tokenizer/model/gpt-4o';
import { boundedJsonBytes, DEFAULT_OUTPUT_CEILING, outputCap, thinksByDefault } from '../../domain/estimate.js';
import { compileOperation } from '../../domain/operations.js';

const classify = compileOperation({ operation: 'classify', categories: ['positive', 'negative', 'neutral'], multi_label: false });
const schemaSpec = (schema: Record<string, unknown>, model = 'gpt-4.1-mini') => ({
  model,
  response_format: { type: 'json_schema' as const, json_schema: { name: 'x', schema, strict: true } },
});

describe('output cap', () => {
  test('a classify answer is capped at a few dozen tokens, and its longest pretty-printed answer fits', () => {
    const cap = outputCap({ model: 'gpt-4.1-mini', response_format: classify.response_format });
    assert.ok(cap < 200, `cap ${cap}`);
    const longest = JSON.stringify({ label: 'positive', confidence: -1.2345678901234567e-308 }, null, 4);
    assert.ok(encode(longest).length <= cap, `${encode(longest).length} tokens > cap ${cap}`);
  });

  test('multi-label classify is bounded by its categories', () => {
    const multi = compileOperation({ operation: 'classify', categories: ['a', 'b', 'c'], multi_label: true });
    const cap = outputCap({ model: 'gpt-4.1-mini', response_format: multi.response_format });
    const longest = JSON.stringify({ labels: ['a', 'b', 'c'], confidence: 0.123456789 }, null, 2);
    assert.ok(cap < 400 && encode(longest).length <= cap, `cap ${cap}`);
  });

  test('a free string, an open object or free text keeps the ceiling; max_output_tokens wins', () => {
    assert.equal(
      outputCap(schemaSpec({ type: 'object', properties: { summary: { type: 'string' } }, additionalProperties: false })),
      DEFAULT_OUTPUT_CEILING,
    );
    assert.equal(outputCap(schemaSpec({ type: 'object', properties: { n: { type: 'number' } } })), DEFAULT_OUTPUT_CEILING);
    assert.equal(outputCap({ model: 'gpt-4.1-mini' }), DEFAULT_OUTPUT_CEILING);
    assert.equal(outputCap({ model: 'gpt-4.1-mini', max_output_tokens: 77, response_format: classify.response_format }), 77);
  });

  test('bounded strings and arrays count their limits; unions take their largest option', () => {
    assert.equal(boundedJsonBytes({ type: 'string', maxLength: 10 }), 62);
    assert.equal(boundedJsonBytes({ type: 'array', items: { type: 'boolean' } }), null);
    assert.equal(boundedJsonBytes({ anyOf: [{ type: 'null' }, { type: 'integer' }] }), 24);
    assert.equal(boundedJsonBytes({ type: ['string', 'null'], maxLength: 1 }), 8);
  });

  test('models that think keep the ceiling: a schema bound would cut their answer off', () => {
    for (const model of ['o4-mini', 'gpt-5-mini', 'openai/o3', 'gemini-2.5-flash', 'deepseek-reasoner'])
      assert.ok(thinksByDefault(model), model);
    for (const model of ['gpt-4.1-mini', 'gpt-4o', 'claude-sonnet-4-5', 'gemini-2.0-flash'])
      assert.equal(thinksByDefault(model), false, model);
    assert.equal(outputCap({ model: 'gemini-2.5-flash', response_format: classify.response_format }), DEFAULT_OUTPUT_CEILING);
  });
});
