/** The emulator's prompt caches, through the official SDKs: cached tokens for a repeated prefix, as the providers report them. */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { BadRequestError } from '@anthropic-ai/sdk';
import { startEmulator, type Emulator } from '../../emulator/index.js';
import { anthropicClient, sdkClient } from './helpers.js';

const LONG = 'Weigh every clue the ticket gives before you answer. '.repeat(100); // ~1,325 tokens at 4 characters each

describe('emulator prompt caches', () => {
  let emulator: Emulator;
  before(async () => {
    emulator = await startEmulator({ processingMs: 0 });
  });
  after(async () => emulator.close());
  beforeEach(() => emulator.reset());

  it('Anthropic: a cache_control breakpoint is written once, then read; input_tokens leave both out', async () => {
    const client = anthropicClient(emulator.anthropicBaseURL);
    const ask = (text: string, system: unknown) =>
      client.messages.create({
        model: 'claude-sonnet-4-5',
        max_tokens: 50,
        system: system as never,
        messages: [{ role: 'user', content: text }],
      });
    const marked = [{ type: 'text', text: LONG, cache_control: { type: 'ephemeral' } }];
    const prefix = Math.ceil(LONG.length / 4);
    const first = await ask('one', marked);
    assert.equal(first.usage.cache_creation_input_tokens, prefix);
    assert.equal(first.usage.cache_read_input_tokens, 0);
    const second = await ask('two', marked);
    assert.equal(second.usage.cache_read_input_tokens, prefix);
    assert.equal(second.usage.cache_creation_input_tokens, 0);
    // The same text without a breakpoint, or under the 1,024-token minimum, is never cached.
    const plain = await ask('three', [{ type: 'text', text: LONG }]);
    assert.equal(plain.usage.cache_read_input_tokens, 0);
    const short = await ask('four', [{ type: 'text', text: 'Be terse.', cache_control: { type: 'ephemeral' } }]);
    assert.equal(short.usage.cache_creation_input_tokens, 0);
    assert.ok(plain.usage.input_tokens > prefix, 'uncached, input_tokens counts the system prompt');
    assert.ok(second.usage.input_tokens < 10, 'read from the cache, it is left out of input_tokens');
    assert.deepEqual(emulator.stats().prompt_cache, { reads: 1, writes: 1 });
    await assert.rejects(ask('five', [{ type: 'text', text: LONG, cache_control: { type: 'forever' } }]), BadRequestError);
  });

  it('OpenAI: a prompt of 1,024+ tokens whose system prefix was seen reports it cached, in steps of 128', async () => {
    const client = sdkClient(emulator.openaiBaseURL);
    const ask = (text: string) =>
      client.chat.completions.create({
        model: 'gpt-4.1-mini',
        messages: [
          { role: 'system', content: LONG },
          { role: 'user', content: text },
        ],
      });
    assert.equal((await ask('one')).usage?.prompt_tokens_details?.cached_tokens, 0);
    const cached = (await ask('two')).usage?.prompt_tokens_details?.cached_tokens;
    assert.equal(cached, Math.floor((Math.ceil(LONG.length / 4) + 3) / 128) * 128);
    assert.equal(emulator.stats().prompt_cache.reads, 1);
    emulator.reset();
    assert.equal((await ask('three')).usage?.prompt_tokens_details?.cached_tokens, 0, 'reset forgets the cache');
  });
});
