import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { unservedReason, type ProviderOffer } from '../../domain/provider-offers.js';

const both = (provider: string, models: string[] | null = null): ProviderOffer => ({ provider, batch: true, realtime: true, models });

describe('unservedReason', () => {
  test('no live worker at all: nothing is refused, the batch waits for one', () => {
    assert.equal(unservedReason([], 'openai_compatible', 'llama', 'auto'), null);
  });

  test('a provider no worker has is refused on model, naming the configured ones in catalog order, each once', () => {
    const offers = [both('gemini'), both('openai'), both('anthropic'), both('openai')];
    assert.deepEqual(unservedReason(offers, 'openai_compatible', 'llama', 'auto'), {
      path: 'model',
      message: 'provider "openai_compatible" is not configured on any worker; configured: openai, anthropic, gemini',
    });
    assert.equal(unservedReason(offers, 'gemini', 'gemini-2.5-flash', 'realtime'), null);
  });

  test('a worker restricted to some models serves only those', () => {
    const offers = [both('openai', ['gpt-4.1-mini', 'gpt-4o']), both('anthropic')];
    assert.equal(unservedReason(offers, 'openai', 'gpt-4o', 'auto'), null);
    assert.deepEqual(unservedReason(offers, 'openai', 'o3', 'auto'), {
      path: 'model',
      message: 'no worker serves openai/o3; the workers configured for openai serve: gpt-4.1-mini, gpt-4o',
    });
    // Another worker serving any model of the provider covers it.
    assert.equal(unservedReason([...offers, both('openai')], 'openai', 'o3', 'auto'), null);
  });

  test('auto and realtime need a worker with the realtime API; batch mode falls back to realtime, so any worker does', () => {
    const batchOnly: ProviderOffer = { provider: 'gemini', batch: true, realtime: false, models: null };
    const realtimeOnly: ProviderOffer = { provider: 'openai_compatible', batch: false, realtime: true, models: null };
    for (const mode of ['auto', 'realtime'] as const) {
      const r = unservedReason([batchOnly], 'gemini', 'gemini-2.5-flash', mode);
      assert.equal(r?.path, 'mode');
      assert.match(r!.message, new RegExp(`mode "${mode}" needs the realtime API of gemini`));
    }
    assert.equal(unservedReason([batchOnly], 'gemini', 'gemini-2.5-flash', 'batch'), null);
    assert.equal(unservedReason([realtimeOnly], 'openai_compatible', 'llama', 'batch'), null);
    // The path must be offered for the model asked for, not by some other model's worker.
    const split = [
      { provider: 'gemini', batch: true, realtime: false, models: ['gemini-2.5-pro'] },
      { provider: 'gemini', batch: true, realtime: true, models: ['gemini-2.5-flash'] },
    ];
    assert.equal(unservedReason(split, 'gemini', 'gemini-2.5-pro', 'realtime')?.path, 'mode');
    assert.equal(unservedReason(split, 'gemini', 'gemini-2.5-flash', 'realtime'), null);
  });
});
