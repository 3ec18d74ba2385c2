import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compileOperation, type StructuredOperation } from '../../domain/operations.js';
import { startEmulator, type Emulator } from '../../emulator/index.js';
import { likelyLabels, sentimentScore } from '../../emulator/plausible.js';
import { sampleFromSchema } from '../../emulator/schema-sample.js';
import { seededRandom } from '../../emulator/ids.js';
import { anthropicClient, geminiClient, makeAjv, sdkClient } from './helpers.js';

/** Emulated answers stay schema-valid and deterministic, and are plausible where that is cheap. */

const classify = (categories: string[], multi = false) =>
  compileOperation({ operation: 'classify', categories, multi_label: multi } as StructuredOperation);

describe('plausible emulated outputs', () => {
  let emulator: Emulator;
  before(async () => {
    emulator = await startEmulator();
  });
  after(async () => emulator.close());

  const openaiAnswer = async (op: ReturnType<typeof classify>, content: string) => {
    const { data, response } = await sdkClient(emulator.openaiBaseURL)
      .chat.completions.create({
        model: 'gpt-4.1-mini',
        messages: [
          { role: 'system', content: op.system_prompt ?? '' },
          { role: 'user', content: op.user_prompt_template.replace('{content}', content) },
        ],
        response_format: { type: 'json_schema', json_schema: { ...op.response_format.json_schema } },
      })
      .withResponse();
    return { output: JSON.parse(data.choices[0]!.message.content!) as Record<string, any>, response, data };
  };

  it('a sentiment label follows obvious sentiment words, on every provider', async () => {
    const op = classify(['positive', 'negative', 'neutral']);
    const validate = makeAjv().compile(op.response_format.json_schema.schema);
    const cases: Array<[string, string]> = [
      ['Loved it', 'positive'],
      ['Broke in a day', 'negative'],
      ['Great value, works perfectly', 'positive'],
      ['Terrible support, I want a refund', 'negative'],
      ['Not good at all', 'negative'],
      ['It arrived on Tuesday', 'neutral'],
    ];
    for (const [text, label] of cases) {
      const { output } = await openaiAnswer(op, text);
      assert.ok(validate(output), JSON.stringify(validate.errors));
      assert.equal(output.label, label, `openai: ${text}`);
    }

    const tool = { name: 'answer', input_schema: op.response_format.json_schema.schema as { type: 'object' } };
    const message = await anthropicClient(emulator.anthropicBaseURL).messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 200,
      system: op.system_prompt,
      messages: [{ role: 'user', content: 'Text:\nLoved it' }],
      tools: [tool],
      tool_choice: { type: 'tool', name: 'answer' },
    });
    const block = message.content.find((b) => b.type === 'tool_use');
    assert.equal((block as { input: { label: string } }).input.label, 'positive');

    const gemini = await geminiClient(emulator.geminiBaseUrl).models.generateContent({
      model: 'gemini-2.5-flash',
      contents: 'Text:\nBroke in a day',
      config: { responseMimeType: 'application/json', responseJsonSchema: op.response_format.json_schema.schema },
    });
    assert.equal(JSON.parse(gemini.text!).label, 'negative');
  });

  it('multi-label answers name each label at most once, those the text names first', async () => {
    const op = classify(['bug', 'feature', 'billing', 'praise'], true);
    const validate = makeAjv().compile(op.response_format.json_schema.schema);
    for (let i = 0; i < 30; i++) {
      const { output } = await openaiAnswer(op, `ticket ${i}: the export is slow`);
      assert.ok(validate(output), JSON.stringify(validate.errors));
      assert.equal(new Set(output.labels).size, output.labels.length, JSON.stringify(output.labels));
    }
    const { output } = await openaiAnswer(op, 'A billing question about my invoice');
    assert.equal(output.labels[0], 'billing');
  });

  it("a summary is made of the input's own words, within max_words", async () => {
    const op = compileOperation({ operation: 'summarize', max_words: 6 } as StructuredOperation);
    const text = 'The parcel arrived two weeks late and the box was crushed, but support sent a new one.';
    const { output } = await openaiAnswer(op, text);
    assert.equal(output.summary, 'The parcel arrived two weeks late');
  });

  it('the same request gets the same answer; every answer says it is synthetic', async () => {
    const op = classify(['positive', 'negative'], true);
    const a = await openaiAnswer(op, 'Loved it, but it broke');
    const b = await openaiAnswer(op, 'Loved it, but it broke');
    assert.deepEqual(a.output, b.output);
    assert.equal(a.response.headers.get('x-drover-emulator'), 'synthetic');
    assert.equal(a.data.system_fingerprint, 'fp_drover_emulator');
    const models = await fetch(`${emulator.anthropicBaseURL}/v1/models`, { headers: { 'x-api-key': 'k' } });
    assert.equal(models.headers.get('x-drover-emulator'), 'synthetic');
  });

  it('the pieces: sentiment with negation, labels named in the text, no hint means the seeded choice', () => {
    assert.ok(sentimentScore('Loved it') > 0);
    assert.ok(sentimentScore('not bad') > 0);
    assert.ok(sentimentScore('Broke in a day') < 0);
    assert.equal(sentimentScore('It arrived'), 0);
    assert.deepEqual(likelyLabels(['shipping', 'billing', 'other'], 'Where is my shipping label?'), ['shipping']);
    assert.deepEqual(likelyLabels(['a', 'b'], 'nothing here'), []);
    const schema = { type: 'object', properties: { label: { enum: ['x', 'y', 'z'] }, n: { type: 'integer' } }, required: ['label', 'n'] };
    assert.deepEqual(sampleFromSchema(schema, seededRandom('s')), sampleFromSchema(schema, seededRandom('s'), { text: 'no labels named' }));
  });
});
