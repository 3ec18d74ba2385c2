import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { anyProviderSuggestion, closeModelNames, editDistance, unpricedModelMessage } from '../../domain/model-prices.js';

/** A model with no price: a typo gets the name it meant, and only a model known to exist gets `prices`. */

describe('unknown models', () => {
  test('a typo names the closest model of the catalogue and suggests no prices', () => {
    const m = unpricedModelMessage('openai', 'gpt-4.1-minii');
    assert.equal(m, "unknown model 'gpt-4.1-minii' for openai; did you mean gpt-4.1-mini?");
    assert.doesNotMatch(m, /prices/);
  });

  test('typos of each provider, swapped letters and dated names included', () => {
    const cases: Array<[Parameters<typeof closeModelNames>[0], string, string]> = [
      ['openai', 'o3-mnii', 'o3-mini'],
      ['openai', 'gpt4.1-mini', 'gpt-4.1-mini'],
      ['openai', 'gpt-5-nanoo', 'gpt-5-nano'],
      ['anthropic', 'claude-sonet-4-5-20250929', 'claude-sonnet-4-5-20250929'],
      ['gemini', 'gemini-2.5-flsh', 'gemini-2.5-flash'],
    ];
    for (const [provider, typo, meant] of cases) assert.deepEqual(closeModelNames(provider, typo), [meant], typo);
  });

  test("the operator's own price overrides are names too", () => {
    assert.deepEqual(closeModelNames('openai', 'my-finetuen', { 'openai/my-finetune': { input_per_mtok: 1, output_per_mtok: 2 } }), [
      'my-finetune',
    ]);
  });

  test('a model known to exist without a price is asked for prices', () => {
    assert.match(unpricedModelMessage('openai', 'ft:gpt-4o'), /^no price is known for openai\/ft:gpt-4o: give "prices"/);
    // An OpenAI-compatible server's models are its own: any name may exist.
    assert.match(unpricedModelMessage('openai_compatible', 'llama3'), /^no price is known for openai_compatible\/llama3: give "prices"/);
  });

  test('a name far from any known one says it is not in the price data, and how a newer model goes on', () => {
    const m = unpricedModelMessage('openai', 'gpt-unreleased-9');
    assert.match(
      m,
      /^unknown model 'gpt-unreleased-9' for openai: no price is known .* does not list it\)\. Check the name; if it is a model newer/,
    );
    assert.doesNotMatch(m, /did you mean/);
  });

  test('a bare name no provider claims gets the closest model of any provider', () => {
    assert.equal(anyProviderSuggestion('gtp-4.1-mini'), '; did you mean gpt-4.1-mini?');
    assert.equal(anyProviderSuggestion('cluade-haiku-4-5'), '; did you mean claude-haiku-4-5?');
    assert.equal(anyProviderSuggestion('mistral-large'), '');
  });

  test('edit distance counts a swap of neighbours once', () => {
    assert.equal(editDistance('mnii', 'mini'), 1);
    assert.equal(editDistance('gpt-4.1-minii', 'gpt-4.1-mini'), 1);
    assert.equal(editDistance('abc', 'xyz'), 3);
    assert.equal(editDistance('', 'ab'), 2);
  });
});
