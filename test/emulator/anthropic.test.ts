/** Anthropic's Messages and Message Batches through the official SDK, against a real emulator over HTTP. */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { AnthropicError, BadRequestError, NotFoundError, OverloadedError, RateLimitError } from '@anthropic-ai/sdk';
import type { Message, TextBlock, ToolUseBlock } from '@anthropic-ai/sdk/resources/messages';
import type { BatchCreateParams, MessageBatch, MessageBatchIndividualResponse } from '@anthropic-ai/sdk/resources/messages/batches';
import { startEmulator, type Emulator } from '../../emulator/index.js';
import { anthropicClient, makeAjv, PERSON_SCHEMA, sleep } from './helpers.js';

type Client = ReturnType<typeof anthropicClient>;

const textParams = (i: number) => ({
  model: 'claude-sonnet-5-5',
  max_tokens: 256,
  messages: [{ role: 'user' as const, content: `Question number ${i}` }],
});
const toolParams = (i: number) => ({
  model: 'claude-sonnet-5-5',
  max_tokens: 1024,
  messages: [{ role: 'user' as const, content: `Extract the person from record ${i}` }],
  tools: [{ name: 'record_person', description: 'Record a person', input_schema: PERSON_SCHEMA as never }],
  tool_choice: { type: 'tool' as const, name: 'record_person' },
});
const textRequests = (n: number, prefix = 'req'): BatchCreateParams.Request[] =>
  Array.from({ length: n }, (_, i) => ({ custom_id: `${prefix}-${i}`, params: textParams(i) }));

async function waitEnded(client: Client, id: string, timeoutMs = 10_000): Promise<MessageBatch> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const batch = await client.messages.batches.retrieve(id);
    if (batch.processing_status === 'ended') return batch;
    if (Date.now() > deadline) throw new Error(`batch ${id} still ${batch.processing_status} after ${timeoutMs} ms`);
    await sleep(20);
  }
}

async function results(client: Client, id: string): Promise<MessageBatchIndividualResponse[]> {
  const out: MessageBatchIndividualResponse[] = [];
  for await (const r of await client.messages.batches.results(id)) out.push(r);
  return out;
}

const tinyPng = (width: number, height: number): Buffer => {
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    u32(13),
    Buffer.from('IHDR'),
    u32(width),
    u32(height),
    Buffer.from([8, 2, 0, 0, 0]),
    u32(0),
  ]);
};

describe('Anthropic Messages and Message Batches', () => {
  let emulator: Emulator;
  let client: Client;

  before(async () => {
    emulator = await startEmulator({ processingMs: 100 });
    client = anthropicClient(emulator.anthropicBaseURL);
  });
  after(async () => emulator.close());
  beforeEach(() => emulator.reset());

  it('runs a batch to the end and streams every result once from the absolute results_url', async () => {
    const requests = Array.from({ length: 30 }, (_, i) =>
      i % 3 === 0 ? { custom_id: `tool-${i}`, params: toolParams(i) } : { custom_id: `text-${i}`, params: textParams(i) },
    );
    const created = await client.messages.batches.create({ requests }, { headers: { 'x-drover-key': 'job-a' } });
    assert.match(created.id, /^msgbatch_/);
    assert.equal(created.type, 'message_batch');
    assert.equal(created.processing_status, 'in_progress');
    assert.deepEqual(created.request_counts, { processing: 30, succeeded: 0, errored: 0, canceled: 0, expired: 0 });
    assert.equal(created.results_url, null);
    assert.equal(created.ended_at, null);
    assert.equal(Date.parse(created.expires_at) - Date.parse(created.created_at), 24 * 3600 * 1000);
    await assert.rejects(
      client.messages.batches.results(created.id),
      (e: unknown) => e instanceof AnthropicError && /results_url/.test(e.message),
    );

    const done = await waitEnded(client, created.id);
    assert.deepEqual(done.request_counts, { processing: 0, succeeded: 30, errored: 0, canceled: 0, expired: 0 });
    assert.ok(Date.parse(done.ended_at!) >= Date.parse(done.created_at));
    assert.equal(done.results_url, `${emulator.url}/v1/messages/batches/${created.id}/results`);

    const out = await results(client, created.id);
    assert.equal(out.length, 30);
    assert.deepEqual(new Set(out.map((r) => r.custom_id)), new Set(requests.map((r) => r.custom_id)));
    const validate = makeAjv().compile(PERSON_SCHEMA);
    for (const r of out) {
      assert.equal(r.result.type, 'succeeded');
      const message = (r.result as { message: Message }).message;
      assert.equal(message.usage.service_tier, 'batch');
      assert.match(message.id, /^msg_/);
      if (r.custom_id.startsWith('tool-')) {
        assert.equal(message.stop_reason, 'tool_use');
        const block = message.content[0] as ToolUseBlock;
        assert.equal(block.type, 'tool_use');
        assert.ok(validate(block.input), JSON.stringify(validate.errors));
      } else {
        assert.equal(message.stop_reason, 'end_turn');
        assert.match((message.content[0] as TextBlock).text, /^Echo: Question number \d+$/);
      }
    }

    // The same params through the realtime endpoint give the same content, at the standard tier.
    const realtime = await client.messages.create(toolParams(0));
    const batched = out.find((r) => r.custom_id === 'tool-0')!.result as { message: Message };
    assert.deepEqual((realtime.content[0] as ToolUseBlock).input, (batched.message.content[0] as ToolUseBlock).input);
    assert.equal(realtime.usage.service_tier, 'standard');

    const stats = emulator.stats();
    assert.equal(stats.anthropic.batches_created, 1);
    assert.equal(stats.anthropic.requests_received, 30);
    assert.deepEqual(stats.batches_by_key, { 'job-a': 1 });
    assert.equal(stats.batches_created, 0, 'the OpenAI counter is untouched');
    assert.equal(stats.requests['GET /v1/messages/batches/:id/results'], 1);
  });

  it('answers text with an echo and the documented token formula, stop sequences and max_tokens', async () => {
    const { data: message, response } = await client.messages
      .create({ model: 'claude-haiku-5', max_tokens: 100, system: 'Be terse.', messages: [{ role: 'user', content: 'Hello there' }] })
      .withResponse();
    assert.match(response.headers.get('request-id') ?? '', /^req_/);
    assert.equal(message.type, 'message');
    assert.equal(message.role, 'assistant');
    assert.equal(message.model, 'claude-haiku-5');
    assert.deepEqual(message.content, [{ type: 'text', text: 'Echo: Hello there', citations: null }]);
    // input: ceil((9 + 11) / 4) + 3 * 1 = 8; output: ceil(17 / 4) = 5
    assert.equal(message.usage.input_tokens, 8);
    assert.equal(message.usage.output_tokens, 5);
    assert.equal(message.usage.cache_read_input_tokens, 0);
    assert.equal(message.usage.service_tier, 'standard');

    const stopped = await client.messages.create({
      model: 'm',
      max_tokens: 100,
      stop_sequences: ['there'],
      messages: [{ role: 'user', content: 'Hello there' }],
    });
    assert.equal(stopped.stop_reason, 'stop_sequence');
    assert.equal(stopped.stop_sequence, 'there');
    assert.equal((stopped.content[0] as TextBlock).text, 'Echo: Hello ');
    const cut = await client.messages.create({
      model: 'm',
      max_tokens: 2,
      messages: [{ role: 'user', content: 'a fairly long question indeed' }],
    });
    assert.equal(cut.stop_reason, 'max_tokens');
    assert.equal((cut.content[0] as TextBlock).text, 'Echo: a ');
    const counted = await client.messages.countTokens({
      model: 'm',
      system: 'Be terse.',
      messages: [{ role: 'user', content: 'Hello there' }],
    });
    assert.equal(counted.input_tokens, 8);
    assert.equal(emulator.stats().anthropic.messages, 3);
  });

  it('returns schema-conforming structured output via tool use and via output_config', async () => {
    const validate = makeAjv().compile(PERSON_SCHEMA);
    const viaTool = await client.messages.create(toolParams(7));
    assert.equal(viaTool.stop_reason, 'tool_use');
    assert.equal(viaTool.content.length, 1);
    const block = viaTool.content[0] as ToolUseBlock;
    assert.equal(block.name, 'record_person');
    assert.match(block.id, /^toolu_/);
    assert.deepEqual(block.caller, { type: 'direct' });
    assert.ok(validate(block.input), JSON.stringify(validate.errors));

    const anyTool = await client.messages.create({ ...toolParams(7), tool_choice: { type: 'any' } });
    assert.equal(anyTool.content[0]?.type, 'tool_use');

    const body = {
      model: 'claude-sonnet-5-5',
      max_tokens: 1024,
      messages: [{ role: 'user' as const, content: 'Describe Ada as JSON' }],
      output_config: { format: { type: 'json_schema' as const, schema: PERSON_SCHEMA as never } },
    };
    const a = await client.messages.create(body);
    const b = await client.messages.create(body);
    const text = (a.content[0] as TextBlock).text;
    assert.equal(text, (b.content[0] as TextBlock).text);
    assert.equal(a.stop_reason, 'end_turn');
    assert.ok(validate(JSON.parse(text)), JSON.stringify(validate.errors));

    emulator.setFaults({ malformed_json: { every: 1 } });
    const broken = await client.messages.create(body);
    assert.throws(() => JSON.parse((broken.content[0] as TextBlock).text), SyntaxError);
  });

  it('cites real substrings of text documents with char_location citations', async () => {
    const docs = [
      { title: 'Grass', text: 'The grass is green. The sky is blue! Water is wet.' },
      { title: null, text: 'Cats sleep a lot.\nDogs bark at night.' },
    ];
    const message = await client.messages.create({
      model: 'claude-sonnet-5-5',
      max_tokens: 1024,
      messages: [
        {
          role: 'user',
          content: [
            ...docs.map((d) => ({
              type: 'document' as const,
              source: { type: 'text' as const, media_type: 'text/plain' as const, data: d.text },
              ...(d.title ? { title: d.title } : {}),
              citations: { enabled: true },
            })),
            { type: 'text' as const, text: 'What do the documents say?' },
          ],
        },
      ],
    });
    const cited = message.content.filter((b): b is TextBlock => b.type === 'text' && (b.citations?.length ?? 0) > 0);
    assert.equal(cited.length, 2);
    for (const block of cited) {
      const c = block.citations![0]!;
      assert.equal(c.type, 'char_location');
      if (c.type !== 'char_location') continue;
      const doc = docs[c.document_index]!;
      assert.equal(c.document_title, doc.title);
      assert.equal(doc.text.slice(c.start_char_index, c.end_char_index), c.cited_text);
      assert.ok(c.cited_text.length > 0);
      assert.equal(block.text, c.cited_text);
    }
    assert.deepEqual(
      cited.map((b) => (b.citations![0] as { document_index: number }).document_index),
      [0, 1],
    );
  });

  it('accepts image and document blocks and counts rough tokens for them', async () => {
    const ask = (content: Array<Record<string, unknown>>) =>
      client.messages.create({
        model: 'm',
        max_tokens: 10,
        messages: [{ role: 'user', content: [...content, { type: 'text', text: 'Describe.' }] as never }],
      });
    const base = (await ask([])).usage.input_tokens;
    const png = await ask([
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: tinyPng(300, 250).toString('base64') } },
    ]);
    assert.equal(png.usage.input_tokens - base, 100); // 300 × 250 / 750
    const url = await ask([{ type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } }]);
    assert.equal(url.usage.input_tokens - base, 1600);
    const pdf = Buffer.from(
      '%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n2 0 obj << /Type /Page >> endobj\n3 0 obj << /Type /Pages >> endobj\n%%EOF',
    );
    const withPdf = await ask([
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf.toString('base64') } },
    ]);
    assert.equal(withPdf.usage.input_tokens - base, 3000);
    await assert.rejects(ask([{ type: 'image', source: { type: 'base64', media_type: 'image/tiff', data: 'AAAA' } }]), BadRequestError);
  });

  it('cancels mid-way: canceling, then ended with partial successes and the rest canceled', async () => {
    emulator.setFaults({ processing_ms: 1000 });
    const requests = textRequests(100);
    const created = await client.messages.batches.create({ requests });
    await sleep(400);
    const canceling = await client.messages.batches.cancel(created.id);
    assert.equal(canceling.processing_status, 'canceling');
    assert.ok(canceling.cancel_initiated_at);
    assert.equal(canceling.results_url, null);
    await assert.rejects(client.messages.batches.delete(created.id), BadRequestError);

    const done = await waitEnded(client, created.id);
    const { succeeded, canceled, errored, expired, processing } = done.request_counts;
    assert.ok(succeeded > 10 && succeeded < 90, `expected partial results, got ${succeeded}`);
    assert.equal(succeeded + canceled, 100);
    assert.deepEqual([errored, expired, processing], [0, 0, 0]);
    const out = await results(client, created.id);
    assert.equal(out.filter((r) => r.result.type === 'canceled').length, canceled);
    assert.deepEqual(new Set(out.map((r) => r.custom_id)), new Set(requests.map((r) => r.custom_id)));
    await assert.rejects(client.messages.batches.cancel(created.id), BadRequestError);
    assert.equal(emulator.stats().anthropic.batch_cancels, 1);

    assert.deepEqual(await client.messages.batches.delete(created.id), { id: created.id, type: 'message_batch_deleted' });
    await assert.rejects(client.messages.batches.retrieve(created.id), NotFoundError);
  });

  it('lists batches newest first, paging forwards with the auto-pager and backwards with before_id', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await client.messages.batches.create({ requests: textRequests(1) })).id);
    const newestFirst = [...ids].reverse();
    const first = await client.messages.batches.list({ limit: 2 });
    assert.deepEqual(
      first.data.map((b) => b.id),
      newestFirst.slice(0, 2),
    );
    assert.equal(first.has_more, true);
    assert.equal(first.first_id, newestFirst[0]);
    assert.equal(first.last_id, newestFirst[1]);
    const all: string[] = [];
    for await (const b of client.messages.batches.list({ limit: 2 })) all.push(b.id);
    assert.deepEqual(all, newestFirst);
    const before = await client.messages.batches.list({ before_id: newestFirst[3]!, limit: 2 });
    assert.deepEqual(
      before.data.map((b) => b.id),
      newestFirst.slice(1, 3),
    );
    assert.equal(before.has_more, true);
    assert.equal(emulator.stats().requests['GET /v1/messages/batches'], 1 + 3 + 1);
  });

  it('maps errors to the SDK classes with Anthropic error bodies', async () => {
    const missing = await client.messages.batches.retrieve('msgbatch_nope').catch((e: unknown) => e);
    assert.ok(missing instanceof NotFoundError);
    assert.equal(missing.type, 'not_found_error');
    assert.match(missing.requestID ?? '', /^req_/);
    assert.deepEqual(missing.error, {
      type: 'error',
      error: { type: 'not_found_error', message: "No message batch found with id 'msgbatch_nope'." },
      request_id: missing.requestID,
    });

    // API version 2026-10-21 (what SDK 1.x sends) removed the sampling parameters; 2023-06-01 still has them.
    const sampling = { ...textParams(1), temperature: 0.2 };
    const tempErr = await client.messages.create(sampling).catch((e: unknown) => e);
    assert.ok(tempErr instanceof BadRequestError);
    assert.equal(tempErr.type, 'invalid_request_error');
    assert.match(tempErr.message, /temperature: Extra inputs are not permitted/);
    const legacy = anthropicClient(emulator.anthropicBaseURL, { version: '2023-06-01' });
    const withTopK = { ...sampling, top_k: 5 };
    assert.equal((await legacy.messages.create(withTopK)).stop_reason, 'end_turn');
    await assert.rejects(
      client.messages.batches.create({ requests: [{ custom_id: 'a', params: sampling }] }),
      /requests\.0\.params\.temperature/,
    );
    await legacy.messages.batches.create({ requests: [{ custom_id: 'a', params: sampling }] });

    const bad = (requests: unknown) => client.messages.batches.create({ requests } as never);
    await assert.rejects(bad([]), BadRequestError);
    await assert.rejects(bad([{ custom_id: 'has space', params: textParams(1) }]), /custom_id: String should match pattern/);
    await assert.rejects(bad([{ custom_id: 'x'.repeat(65), params: textParams(1) }]), BadRequestError);
    await assert.rejects(
      bad([
        { custom_id: 'same', params: textParams(1) },
        { custom_id: 'same', params: textParams(2) },
      ]),
      /requests\.1\.custom_id: duplicate/,
    );
    await assert.rejects(
      bad([{ custom_id: 'a', params: { ...textParams(1), max_tokens: 0 } }]),
      /max_tokens: Input should be greater than or equal to 1/,
    );
    await assert.rejects(bad([{ custom_id: 'a', params: { ...textParams(1), stream: true } }]), BadRequestError);
    await assert.rejects(client.messages.create({ ...textParams(1), messages: [] }), BadRequestError);

    emulator.setFaults({ http: [{ path: '/v1/messages', method: 'POST', status: 429, count: 1, retry_after_s: 2 }] });
    const limited = await client.messages.create(textParams(1)).catch((e: unknown) => e);
    assert.ok(limited instanceof RateLimitError);
    assert.equal(limited.headers.get('retry-after'), '2');
    assert.equal(limited.type, 'rate_limit_error');
    emulator.setFaults({ http: [{ path: '/v1/messages/batches', status: 529, count: 1 }] });
    const overloaded = await client.messages.batches.list().catch((e: unknown) => e);
    assert.ok(overloaded instanceof OverloadedError);
    assert.equal(overloaded.type, 'overloaded_error');
    assert.equal(emulator.stats().batches_created + emulator.stats().anthropic.batches_created, 1);
  });

  it('accepts x-api-key (SDK 0.x) or a bearer token, ignores ?beta=true, and never echoes the key', async () => {
    const secret = 'sk-ant-secret-do-not-echo';
    const get = (headers: Record<string, string>, query = '') => fetch(`${emulator.url}/v1/messages/batches${query}`, { headers });
    const viaKey = await get({ 'x-api-key': secret, 'anthropic-version': '2023-06-01' }, '?beta=true');
    assert.equal(viaKey.status, 200);
    assert.deepEqual(await viaKey.json(), { data: [], has_more: false, first_id: null, last_id: null });
    assert.equal((await get({ authorization: `Bearer ${secret}`, 'anthropic-version': '2026-10-21' })).status, 200);
    const none = await get({ 'anthropic-version': '2023-06-01' });
    assert.equal(none.status, 401);
    const body = (await none.json()) as { type: string; error: { type: string } };
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'authentication_error');
    const noVersion = await get({ 'x-api-key': secret });
    assert.equal(noVersion.status, 400);
    assert.ok(!(await noVersion.text()).includes(secret));
    assert.ok(!JSON.stringify(emulator.stats()).includes(secret));
  });

  it('applies line_errors, malformed_json, batch_expire and batch_fail to batches', async () => {
    emulator.setFaults({ processing_ms: 0, line_errors: { every: 4, status: 529 }, batch_expire: { count: 1, after_fraction: 0.5 } });
    const expiring = await waitEnded(client, (await client.messages.batches.create({ requests: textRequests(10) })).id);
    assert.deepEqual(expiring.request_counts, { processing: 0, succeeded: 4, errored: 1, canceled: 0, expired: 5 });
    const out = await results(client, expiring.id);
    const errored = out.find((r) => r.result.type === 'errored')!;
    assert.equal(errored.custom_id, 'req-3');
    assert.deepEqual((errored.result as { error: { type: string; error: { type: string } } }).error.error.type, 'overloaded_error');
    assert.equal(out.filter((r) => r.result.type === 'expired').length, 5);

    emulator.setFaults({ processing_ms: 0, batch_fail: { count: 1 } });
    const failed = await waitEnded(client, (await client.messages.batches.create({ requests: textRequests(3) })).id);
    assert.deepEqual(failed.request_counts, { processing: 0, succeeded: 0, errored: 3, canceled: 0, expired: 0 });

    emulator.setFaults({ processing_ms: 0, malformed_json: { every: 2 } });
    const schema = {
      type: 'object',
      properties: { label: { type: 'string', enum: ['a', 'b'] } },
      required: ['label'],
      additionalProperties: false,
    };
    const jsonRequests = Array.from({ length: 4 }, (_, i) => ({
      custom_id: `j-${i}`,
      params: { ...textParams(i), output_config: { format: { type: 'json_schema' as const, schema } } },
    }));
    const json = await waitEnded(client, (await client.messages.batches.create({ requests: jsonRequests })).id);
    const broken = (await results(client, json.id)).filter((r) => {
      try {
        JSON.parse(((r.result as { message: Message }).message.content[0] as TextBlock).text);
        return false;
      } catch {
        return true;
      }
    });
    assert.deepEqual(broken.map((r) => r.custom_id).sort(), ['j-1', 'j-3']);
    const injected = emulator.stats().faults_injected;
    assert.deepEqual([injected.line_errors, injected.batch_expire, injected.batch_fail, injected.malformed_json], [1, 1, 1, 2]);
  });
});
