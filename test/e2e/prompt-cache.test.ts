import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { roundUsd } from '../../domain/money.js';
import { useStack } from '../helpers/stack.js';

/** A system prompt well above the 1,024 tokens the providers cache at least (the emulator counts characters / 4). */
const SYSTEM = `You label support tickets. ${'Read the ticket closely and weigh every clue it gives before you answer. '.repeat(80)}`;
const items = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => ({ id: `${tag}-${i}`, content: `[${tag}] ticket ${i}: refund please` }));

async function rows(stack: ReturnType<typeof useStack>, id: string): Promise<any[]> {
  return (await stack.get(`/v1/batches/${id}/results?limit=1000`)).body.data;
}

/**
 * Prompt caching against the real stack: the shared system prompt goes first (OpenAI) or marked
 * with cache_control (Anthropic), the emulator reads repeated prefixes from its cache, and
 * Drover bills cached tokens at the cached rate and shows what that saved.
 */
describe('prompt caching, priced', () => {
  const stack = useStack({ processingMs: 100, worker: true });

  test('Anthropic: the system prompt is cached once and read by every other item, billed at the cached and write rates', async () => {
    const before = stack.emulator.stats().prompt_cache;
    const created = await stack.post('/v1/batches', {
      model: 'anthropic/claude-sonnet-4-5',
      mode: 'realtime',
      system_prompt: SYSTEM,
      items: items(6, 'anth'),
      max_parallel_chunks: 1,
    });
    assert.equal(created.status, 202, created.text);
    const done = await stack.waitForBatch(created.body.id, 60_000);
    assert.equal(done.status, 'completed');
    const after = stack.emulator.stats().prompt_cache;
    assert.equal(after.writes - before.writes, 1, 'one cache write');
    assert.equal(after.reads - before.reads, 5, 'the other five read it');

    const prefix = Math.ceil(SYSTEM.length / 4);
    const results = await rows(stack, done.id);
    assert.deepEqual(results.map((r) => r.usage.cached_input_tokens).sort(), [0, prefix, prefix, prefix, prefix, prefix]);
    assert.equal(done.usage.cached_input_tokens, 5 * prefix);
    // claude-sonnet-4-5: $3 in, $0.30 cached, $3.75 to write the cache, $15 out per million, full price realtime.
    const { input_tokens: input, output_tokens: output } = done.usage;
    const expected = ((input - 6 * prefix) * 3 + 5 * prefix * 0.3 + prefix * 3.75 + output * 15) / 1e6;
    assert.ok(Math.abs(done.cost.spent_usd - expected) < 1e-9, `${done.cost.spent_usd} vs ${expected}`);
    assert.equal(done.cost.prompt_cache_saved_usd, roundUsd((5 * prefix * (3 - 0.3)) / 1e6));
  });

  test('OpenAI: a long shared prefix is cached automatically, in batches and realtime, and priced at the cached rate', async () => {
    const body = { model: 'gpt-4.1-mini', system_prompt: SYSTEM, items: items(4, 'oai') };
    // The emulator reports OpenAI hits in steps of 128 tokens of the prefix (its tokens: characters / 4, plus 3 for the message).
    const cachedPerHit = Math.floor((Math.ceil(SYSTEM.length / 4) + 3) / 128) * 128;

    const realtime = await stack.waitForBatch(
      (await stack.post('/v1/batches', { ...body, mode: 'realtime', max_parallel_chunks: 1 })).body.id,
    );
    assert.equal(realtime.status, 'completed');
    assert.equal(realtime.usage.cached_input_tokens, 3 * cachedPerHit);
    // gpt-4.1-mini: $0.40 in, $0.10 cached, $1.60 out per million.
    const { input_tokens: input, output_tokens: output, cached_input_tokens: cached } = realtime.usage;
    assert.ok(Math.abs(realtime.cost.spent_usd - ((input - cached) * 0.4 + cached * 0.1 + output * 1.6) / 1e6) < 1e-9);
    assert.equal(realtime.cost.prompt_cache_saved_usd, roundUsd((cached * 0.3) / 1e6));

    // Through the batch API: the prefix was cached by the realtime batch, so every line reads it, at half price.
    const batch = await stack.waitForBatch((await stack.post('/v1/batches', { ...body, items: items(4, 'oai-b'), mode: 'batch' })).body.id);
    assert.equal(batch.status, 'completed');
    assert.equal(batch.usage.cached_input_tokens, 4 * cachedPerHit);
    assert.equal(batch.cost.prompt_cache_saved_usd, roundUsd((4 * cachedPerHit * 0.3 * 0.5) / 1e6));
    assert.ok((await rows(stack, batch.id)).every((r) => r.path === 'batch' && r.usage.cached_input_tokens === cachedPerHit));
  });

  test('estimates price the shared prefix at the cached rate; budgets still reserve without it', async () => {
    const request = { model: 'gpt-4.1-mini', system_prompt: SYSTEM, items: items(50, 'est'), mode: 'batch' };
    const cached = (await stack.post('/v1/batches/estimate', request)).body;
    assert.equal(cached.pricing.cached_input_per_mtok, 0.1, 'the catalogue carries cached rates');
    const undiscounted = (await stack.post('/v1/batches/estimate', { ...request, prices: { input_per_mtok: 0.4, output_per_mtok: 1.6 } }))
      .body;
    assert.ok(
      cached.cost.expected_usd < undiscounted.cost.expected_usd * 0.75,
      `${cached.cost.expected_usd} vs ${undiscounted.cost.expected_usd}`,
    );
    assert.equal(cached.cost.high_usd, undiscounted.cost.high_usd, 'the worst case assumes no cache');
    const short = (await stack.post('/v1/batches/estimate', { ...request, system_prompt: 'Label it.' })).body;
    assert.ok(short.cost.low_usd < cached.cost.low_usd, 'a prefix under the minimum is not discounted');
    // Anthropic's worst case counts input at the cache-write rate, which is above the input rate.
    const anthropic = (await stack.post('/v1/batches/estimate', { ...request, model: 'anthropic/claude-sonnet-4-5' })).body;
    assert.equal(anthropic.pricing.cache_write_input_per_mtok, 3.75);
    assert.ok(anthropic.cost.high_usd > ((anthropic.input_tokens * 1.1 * 3 + anthropic.output_tokens.max * 15) / 1e6) * 0.5);
  });
});
