/**
 * One full-size batch (50,000 lines, the API's limit) goes through whole. How fast is the
 * benchmark's business (bench/batch-throughput.ts): a timed assertion here failed on a busy machine.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startEmulator, type Emulator } from '../../emulator/index.js';
import { chatLine, readJsonl, sdkClient, uploadJsonl, waitForBatch } from './helpers.js';

describe('OpenAI Batches at scale', () => {
  let emulator: Emulator;

  before(async () => {
    emulator = await startEmulator({ processingMs: 0 });
  });
  after(async () => emulator.close());

  it('processes 50,000 schema lines: every line answered once', async () => {
    const client = sdkClient(emulator.openaiBaseURL);
    const schema = {
      type: 'object',
      properties: { label: { type: 'string', enum: ['pos', 'neg'] }, score: { type: 'number', minimum: 0, maximum: 1 } },
      required: ['label', 'score'],
      additionalProperties: false,
    };
    const lines = Array.from({ length: 50_000 }, (_, i) =>
      chatLine(`item-${i}`, {
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: `Classify review ${i}: the product was fine.` }],
        response_format: { type: 'json_schema', json_schema: { name: 'label', schema, strict: true } },
      }),
    );
    const input_file_id = await uploadJsonl(client, lines);
    // Client and emulator share this process, so time creation and processing together.
    const started = performance.now();
    const created = await client.batches.create({ input_file_id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const done = await waitForBatch(client, created.id);
    const processMs = performance.now() - started;
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.request_counts, { total: 50_000, completed: 50_000, failed: 0 });
    console.log(`50,000 lines created and processed in ${processMs.toFixed(0)} ms`);
    const out = await readJsonl(client, done.output_file_id);
    assert.equal(out.length, 50_000);
    assert.equal(new Set(out.map((l) => l.custom_id)).size, 50_000);
  });
});
