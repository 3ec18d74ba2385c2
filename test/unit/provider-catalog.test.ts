import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PromptSpec } from '../../domain/batch-spec.js';
import { chunkLimits, PROVIDER_BATCH_LIMITS, PROVIDERS, resolveModel } from '../../domain/provider-catalog.js';

describe('resolveModel', () => {
  test('a bare model name means OpenAI and is kept whole', () => {
    assert.deepEqual(resolveModel('gpt-4.1-mini'), { provider: 'openai', model: 'gpt-4.1-mini' });
  });

  test('openai/<model> strips the provider prefix', () => {
    assert.deepEqual(resolveModel('openai/gpt-4.1-mini'), { provider: 'openai', model: 'gpt-4.1-mini' });
  });

  test('only the first slash separates the provider', () => {
    assert.deepEqual(resolveModel('openai/org/model-x'), { provider: 'openai', model: 'org/model-x' });
  });

  test('an unknown provider is an error that names it and lists the known ones', () => {
    const r = resolveModel('acme/model-1');
    assert.ok('error' in r);
    assert.match(r.error, /unknown provider "acme"/);
    for (const p of PROVIDERS) assert.ok(r.error.includes(p), `lists ${p}`);
    assert.match(r.error, /known providers: openai, anthropic, gemini, openai_compatible/);
  });

  test('bare names map to their provider by prefix; anything else is an error naming what is known', () => {
    assert.deepEqual(resolveModel('claude-sonnet-4-5'), { provider: 'anthropic', model: 'claude-sonnet-4-5' });
    assert.deepEqual(resolveModel('gemini-2.5-flash'), { provider: 'gemini', model: 'gemini-2.5-flash' });
    assert.deepEqual(resolveModel('o3-mini'), { provider: 'openai', model: 'o3-mini' });
    assert.deepEqual(resolveModel('anthropic/claude-haiku-4-5'), { provider: 'anthropic', model: 'claude-haiku-4-5' });
    const r = resolveModel('llama3');
    assert.ok('error' in r && /unknown model "llama3"/.test(r.error) && /openai_compatible/.test(r.error));
  });

  test('provider matching is exact (case-sensitive)', () => {
    assert.ok('error' in resolveModel('OpenAI/gpt-4o'));
  });

  test('an empty provider before the slash is unknown', () => {
    const r = resolveModel('/gpt-4o');
    assert.ok('error' in r);
    assert.match(r.error, /unknown provider ""/);
  });

  test('a provider prefix with no model name is an error', () => {
    const r = resolveModel('openai/');
    assert.ok('error' in r && /no model name/.test(r.error));
  });
});

describe('chunkLimits', () => {
  const spec: PromptSpec = { model: 'gpt-4.1-mini' };

  test('maxItems is the chunk size when below the provider request limit', () => {
    assert.equal(chunkLimits('openai', 10_000, spec).maxItems, 10_000);
    assert.equal(chunkLimits('openai', 1, spec).maxItems, 1);
  });

  test('maxItems is capped at the provider limit of 50,000', () => {
    assert.equal(PROVIDER_BATCH_LIMITS.openai.maxRequests, 50_000);
    assert.equal(chunkLimits('openai', 50_000, spec).maxItems, 50_000);
    assert.equal(chunkLimits('openai', 50_001, spec).maxItems, 50_000);
    assert.equal(chunkLimits('openai', 1_000_000, spec).maxItems, 50_000);
  });

  test('maxBytes keeps a 5% margin below the 200 MB provider file limit', () => {
    const { maxBytes } = chunkLimits('openai', 10, spec);
    assert.equal(PROVIDER_BATCH_LIMITS.openai.maxBytes, 200 * 1024 * 1024);
    assert.equal(maxBytes, Math.floor(200 * 1024 * 1024 * 0.95));
    assert.ok(maxBytes < 200 * 1024 * 1024);
    assert.ok(Number.isInteger(maxBytes));
  });

  test('lineOverhead grows with the model name, response_format and max tokens', () => {
    const base = chunkLimits('openai', 10, { model: 'm' }).lineOverhead;
    assert.ok(base > 0);
    assert.equal(chunkLimits('openai', 10, { model: 'mmmmmmmmmm' }).lineOverhead, base + 9);
    const schema = {
      type: 'json_schema' as const,
      json_schema: { name: 'out', schema: { type: 'object', properties: { answer: { type: 'string' } } } },
    };
    const withSchema = chunkLimits('openai', 10, { model: 'm', response_format: schema }).lineOverhead;
    assert.ok(withSchema >= base + JSON.stringify(schema).length, 'the whole response_format is counted on every line');
    assert.ok(chunkLimits('openai', 10, { model: 'm', max_output_tokens: 123456 }).lineOverhead > base);
  });

  test('lineOverhead counts multi-byte model names in bytes', () => {
    const ascii = chunkLimits('openai', 10, { model: 'ab' }).lineOverhead;
    assert.equal(chunkLimits('openai', 10, { model: 'aé' }).lineOverhead, ascii + 1);
  });
});
