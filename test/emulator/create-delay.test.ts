/** The `create_delay_ms` fault: batch creates of every provider wait before the batch exists; nothing else waits. */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startEmulator, type Emulator } from '../../emulator/index.js';
import { anthropicClient, createBatch, geminiClient, sdkClient, textLines } from './helpers.js';

const DELAY_MS = 600;
/** Generous: a loaded CI machine may be slow, but nowhere near this. */
const SLACK_MS = 5_000;

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

describe('create_delay_ms', () => {
  let emulator: Emulator;

  before(async () => {
    emulator = await startEmulator({ processingMs: 0 });
  });
  after(async () => emulator.close());
  beforeEach(() => emulator.reset());

  it('delays every provider’s batch create, and only the create', async () => {
    const openai = sdkClient(emulator.openaiBaseURL);
    const anthropic = anthropicClient(emulator.anthropicBaseURL);
    const gemini = geminiClient(emulator.geminiBaseUrl);
    const fast = await timed(() => createBatch(openai, textLines(2)));
    assert.ok(fast.ms < DELAY_MS, `without the fault a create takes ${fast.ms} ms`);

    emulator.setFaults({ create_delay_ms: DELAY_MS });
    const sentAt = Date.now();
    const creates = {
      openai: timed(() => createBatch(openai, textLines(2))),
      anthropic: timed(() =>
        anthropic.messages.batches.create({
          requests: [
            { custom_id: 'a', params: { model: 'claude-sonnet-5-5', max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] } },
          ],
        }),
      ),
      gemini: timed(() =>
        gemini.batches.create({ model: 'gemini-2.5-flash', src: [{ contents: [{ role: 'user', parts: [{ text: 'Hi' }] }] }] }),
      ),
    };
    // While the creates wait, the rest of the API answers at once: a test can cancel or poll meanwhile.
    const listed = await timed(() => openai.batches.list());
    assert.ok(listed.ms < DELAY_MS, `a list during the delayed creates took ${listed.ms} ms`);
    assert.equal(listed.value.data.length, 1, 'only the undelayed batch exists while the others wait');
    assert.equal(emulator.stats().batches_created, 1);

    const [o, a, g] = await Promise.all([creates.openai, creates.anthropic, creates.gemini]);
    for (const [name, { ms }] of Object.entries({ openai: o, anthropic: a, gemini: g })) {
      assert.ok(ms >= DELAY_MS - 5 && ms < DELAY_MS + SLACK_MS, `${name} create took ${ms} ms, expected about ${DELAY_MS}`);
    }
    // The batches are created after the wait, not before it.
    assert.ok(Date.parse(a.value.created_at) >= sentAt + DELAY_MS - 5, `anthropic created_at ${a.value.created_at}`);
    assert.ok(Date.parse(g.value.createTime!) >= sentAt + DELAY_MS - 5, `gemini createTime ${g.value.createTime}`);
    const stats = emulator.stats();
    assert.equal(stats.batches_created + stats.anthropic.batches_created + stats.gemini.batches_created, 4);
  });
});
