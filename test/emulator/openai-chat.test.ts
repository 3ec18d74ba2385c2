/** `POST /v1/chat/completions` through the official SDK. */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { BadRequestError, InternalServerError } from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { z } from 'zod';
import { startEmulator, type Emulator } from '../../emulator/index.js';
import { makeAjv, PERSON_SCHEMA, sdkClient } from './helpers.js';

describe('OpenAI Chat Completions', () => {
  let emulator: Emulator;
  let client: ReturnType<typeof sdkClient>;

  before(async () => {
    emulator = await startEmulator();
    client = sdkClient(emulator.openaiBaseURL);
  });
  after(async () => emulator.close());
  beforeEach(() => emulator.reset());

  it('answers text requests with an echo and the documented token formula', async () => {
    const { data: completion, response } = await client.chat.completions
      .create({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: 'Hello there' },
        ],
      })
      .withResponse();
    assert.match(response.headers.get('x-request-id') ?? '', /^req_/);
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.model, 'gpt-4o-mini');
    assert.match(completion.id, /^chatcmpl-/);
    const choice = completion.choices[0]!;
    assert.equal(choice.index, 0);
    assert.equal(choice.finish_reason, 'stop');
    assert.equal(choice.logprobs, null);
    assert.equal(choice.message.content, 'Echo: Hello there');
    assert.equal(choice.message.refusal, null);
    // prompt: ceil((14 + 11) / 4) + 3 * 2 = 13; completion: ceil(17 / 4) = 5
    assert.equal(completion.usage?.prompt_tokens, 13);
    assert.equal(completion.usage?.completion_tokens, 5);
    assert.equal(completion.usage?.total_tokens, 18);
    assert.equal(completion.usage?.prompt_tokens_details?.cached_tokens, 0);
    assert.equal(completion.usage?.completion_tokens_details?.reasoning_tokens, 0);
    assert.equal(emulator.stats().chat_completions, 1);
  });

  it('returns schema-conforming JSON, the same for the same request', async () => {
    const body = {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user' as const, content: 'Extract: Ada, 36' }],
      response_format: { type: 'json_schema' as const, json_schema: { name: 'person', schema: PERSON_SCHEMA, strict: true } },
    };
    const a = await client.chat.completions.create(body as never);
    const b = await client.chat.completions.create(body as never);
    const content = a.choices[0]!.message.content!;
    assert.equal(content, b.choices[0]!.message.content);
    assert.notEqual(a.id, b.id);
    const validate = makeAjv().compile(PERSON_SCHEMA);
    assert.ok(validate(JSON.parse(content)), JSON.stringify(validate.errors));
  });

  it('works with the SDK zod helper and chat.completions.parse', async () => {
    const Answer = z.object({ title: z.string(), rating: z.number().int().min(1).max(5), tags: z.array(z.enum(['x', 'y'])) });
    const parsed = await client.chat.completions.parse({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Rate this.' }],
      response_format: zodResponseFormat(Answer, 'answer'),
    });
    const value = parsed.choices[0]!.message.parsed;
    assert.ok(value);
    assert.ok(Answer.safeParse(value).success);
  });

  it('returns a JSON object for json_object and enforces OpenAI request rules', async () => {
    const ok = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Reply in JSON please' }],
      response_format: { type: 'json_object' },
    });
    assert.equal(typeof JSON.parse(ok.choices[0]!.message.content!), 'object');
    await assert.rejects(
      client.chat.completions.create({
        model: 'm',
        messages: [{ role: 'user', content: 'no keyword' }],
        response_format: { type: 'json_object' },
      }),
      BadRequestError,
    );
    await assert.rejects(
      client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true }),
      BadRequestError,
    );
    await assert.rejects(
      client.chat.completions.create({ model: 'm', messages: [] }),
      (e: unknown) => e instanceof BadRequestError && e.param === 'messages',
    );
    const strictErr = await client.chat.completions
      .create({
        model: 'm',
        messages: [{ role: 'user', content: 'hi' }],
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'loose', strict: true, schema: { type: 'object', properties: { a: { type: 'string' } } } },
        },
      })
      .catch((e: unknown) => e);
    assert.ok(strictErr instanceof BadRequestError);
    assert.match(strictErr.message, /Invalid schema for response_format 'loose'/);
    assert.equal(emulator.stats().chat_completions, 1);
  });

  it('cuts the answer at max_completion_tokens with finish_reason length', async () => {
    const c = await client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'a fairly long question that needs more than two tokens' }],
      max_completion_tokens: 2,
    });
    assert.equal(c.choices[0]!.finish_reason, 'length');
    assert.equal(c.choices[0]!.message.content, 'Echo: a ');
    assert.equal(c.usage?.completion_tokens, 2);
  });

  it('honours http and malformed_json faults', async () => {
    emulator.setFaults({ http: [{ path: '/v1/chat/completions', status: 500, count: 1 }], malformed_json: { every: 2 } });
    const body = (i: number) => ({
      model: 'm',
      messages: [{ role: 'user' as const, content: `json please ${i}` }],
      response_format: { type: 'json_object' as const },
    });
    await assert.rejects(client.chat.completions.create(body(0)), InternalServerError);
    const first = await client.chat.completions.create(body(1));
    const second = await client.chat.completions.create(body(2));
    assert.doesNotThrow(() => JSON.parse(first.choices[0]!.message.content!));
    assert.throws(() => JSON.parse(second.choices[0]!.message.content!), SyntaxError);
    // once (the default): the same request is not broken a second time.
    await client.chat.completions.create(body(3));
    const secondAgain = await client.chat.completions.create(body(2));
    assert.doesNotThrow(() => JSON.parse(secondAgain.choices[0]!.message.content!));
    assert.deepEqual(emulator.stats().faults_injected, {
      http: 1,
      line_errors: 0,
      malformed_json: 1,
      batch_fail: 0,
      batch_expire: 0,
      rate_limited: 0,
    });
  });
});
