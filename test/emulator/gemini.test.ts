/** Gemini's generateContent, Batch Mode and Files through the official SDK, against a real emulator over HTTP. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ApiError, JobState, Type, type BatchJob, type InlinedRequest } from '@google/genai';
import { startEmulator, type Emulator } from '../../emulator/index.js';
import { geminiClient, makeAjv, PERSON_SCHEMA, sleep } from './helpers.js';

type Client = ReturnType<typeof geminiClient>;
const MODEL = 'gemini-2.5-flash';
const DONE = new Set<string>([
  JobState.JOB_STATE_SUCCEEDED,
  JobState.JOB_STATE_FAILED,
  JobState.JOB_STATE_CANCELLED,
  JobState.JOB_STATE_EXPIRED,
]);

async function waitDone(ai: Client, name: string, timeoutMs = 10_000): Promise<BatchJob> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await ai.batches.get({ name });
    if (DONE.has(job.state ?? '')) return job;
    if (Date.now() > deadline) throw new Error(`batch ${name} still ${job.state} after ${timeoutMs} ms`);
    await sleep(20);
  }
}

const inline = (n: number, prefix = 'req'): InlinedRequest[] =>
  Array.from({ length: n }, (_, i) => ({
    contents: [{ role: 'user', parts: [{ text: `Question number ${i}` }] }],
    metadata: { key: `${prefix}-${i}` },
  }));

const textOf = (response: unknown): string =>
  (response as { candidates: Array<{ content: { parts: Array<{ text: string }> } }> }).candidates[0]!.content.parts[0]!.text;

/** The body of a Gemini ApiError, which the SDK puts in `message` as JSON. */
const errorBody = (err: ApiError) =>
  JSON.parse(err.message) as { error: { code: number; status: string; message: string; details?: Array<Record<string, unknown>> } };

describe('Gemini generateContent, Batch Mode and Files', () => {
  let emulator: Emulator;
  let ai: Client;

  before(async () => {
    emulator = await startEmulator({ processingMs: 100 });
    ai = geminiClient(emulator.geminiBaseUrl);
  });
  after(async () => emulator.close());
  beforeEach(() => emulator.reset());

  it('generates text with usage metadata, under v1 and v1beta', async () => {
    const r = await ai.models.generateContent({ model: MODEL, contents: 'Hello Gemini', config: { systemInstruction: 'Be terse.' } });
    assert.equal(r.text, 'Echo: Hello Gemini');
    assert.equal(r.candidates?.[0]?.finishReason, 'STOP');
    assert.equal(r.candidates?.[0]?.content?.role, 'model');
    assert.equal(r.modelVersion, MODEL);
    assert.ok(r.responseId);
    // prompt: ceil((12 + 9) / 4) = 6; candidates: ceil(18 / 4) = 5
    assert.equal(r.usageMetadata?.promptTokenCount, 6);
    assert.equal(r.usageMetadata?.candidatesTokenCount, 5);
    assert.equal(r.usageMetadata?.totalTokenCount, 11);
    assert.equal(r.usageMetadata?.thoughtsTokenCount, 0);
    assert.equal(r.usageMetadata?.cachedContentTokenCount, 0);

    const beta = geminiClient(emulator.geminiBaseUrl, 'v1beta');
    const cut = await beta.models.generateContent({
      model: MODEL,
      contents: 'a fairly long question indeed',
      config: { maxOutputTokens: 2, candidateCount: 2 },
    });
    assert.equal(cut.candidates?.length, 2);
    assert.equal(cut.candidates?.[0]?.finishReason, 'MAX_TOKENS');
    assert.equal(textOf(cut), 'Echo: a ');
    assert.equal((await ai.models.countTokens({ model: MODEL, contents: 'Hello Gemini' })).totalTokens, 3);

    const stats = emulator.stats();
    assert.equal(stats.gemini.generate_content, 2);
    assert.equal(stats.requests['POST /:version/models/:model:generateContent'], 2);
    assert.equal(stats.realtime_accepted, 2);
  });

  it('returns JSON conforming to responseJsonSchema, to an OpenAPI responseSchema and to text/x.enum', async () => {
    const ajv = makeAjv();
    const viaJsonSchema = await ai.models.generateContent({
      model: MODEL,
      contents: 'Describe Ada',
      config: { responseMimeType: 'application/json', responseJsonSchema: PERSON_SCHEMA },
    });
    const validatePerson = ajv.compile(PERSON_SCHEMA);
    assert.ok(validatePerson(JSON.parse(viaJsonSchema.text!)), JSON.stringify(validatePerson.errors));

    const viaOpenApi = await ai.models.generateContent({
      model: MODEL,
      contents: 'List recipes',
      config: {
        responseMimeType: 'application/json',
        responseSchema: {
          type: Type.ARRAY,
          minItems: '2',
          maxItems: '3',
          items: {
            type: Type.OBJECT,
            properties: {
              title: { type: Type.STRING },
              servings: { type: Type.INTEGER, minimum: 1, maximum: 8 },
              course: { type: Type.STRING, enum: ['starter', 'main'] },
              note: { type: Type.STRING, nullable: true },
            },
            required: ['title', 'servings', 'course', 'note'],
            propertyOrdering: ['title', 'servings'],
          },
        },
      },
    });
    const recipes = JSON.parse(viaOpenApi.text!) as Array<Record<string, unknown>>;
    const validateRecipes = ajv.compile({
      type: 'array',
      minItems: 2,
      maxItems: 3,
      items: {
        type: 'object',
        properties: {
          title: { type: 'string' },
          servings: { type: 'integer', minimum: 1, maximum: 8 },
          course: { enum: ['starter', 'main'] },
          note: { type: ['string', 'null'] },
        },
        required: ['title', 'servings', 'course', 'note'],
        additionalProperties: false,
      },
    });
    assert.ok(validateRecipes(recipes), JSON.stringify(validateRecipes.errors));
    // propertyOrdering first, the rest alphabetically, as the real API orders generated properties.
    assert.deepEqual(Object.keys(recipes[0]!), ['title', 'servings', 'course', 'note']);

    const label = await ai.models.generateContent({
      model: MODEL,
      contents: 'Classify: great product',
      config: { responseMimeType: 'text/x.enum', responseSchema: { type: Type.STRING, enum: ['positive', 'negative'] } },
    });
    assert.ok(['positive', 'negative'].includes(label.text!));

    const err = await ai.models
      .generateContent({ model: MODEL, contents: 'x', config: { responseSchema: { type: Type.STRING } } })
      .catch((e: unknown) => e);
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 400);
    assert.equal(errorBody(err).error.status, 'INVALID_ARGUMENT');
  });

  it('runs an inline batch to SUCCEEDED with responses in input order in dest.inlinedResponses', async () => {
    const requests: InlinedRequest[] = [
      ...inline(6),
      {
        contents: [{ role: 'user', parts: [{ text: 'As JSON' }] }],
        config: { responseMimeType: 'application/json', responseJsonSchema: PERSON_SCHEMA },
        metadata: { key: 'json' },
      },
      { contents: [{ role: 'robot', parts: [{ text: 'bad role' }] }], metadata: { key: 'bad' } },
    ];
    const created = await ai.batches.create({
      model: MODEL,
      src: requests,
      config: { displayName: 'inline-run', httpOptions: { headers: { 'x-drover-key': 'job-g' } } },
    });
    assert.match(created.name ?? '', /^batches\/[a-z0-9]+$/);
    assert.equal(created.state, JobState.JOB_STATE_PENDING);
    assert.equal(created.displayName, 'inline-run');
    assert.equal(created.model, `models/${MODEL}`);

    const done = await waitDone(ai, created.name!);
    assert.equal(done.state, JobState.JOB_STATE_SUCCEEDED);
    assert.ok(done.endTime);
    const responses = done.dest?.inlinedResponses ?? [];
    assert.deepEqual(
      responses.map((r) => r.metadata?.key),
      requests.map((r) => r.metadata?.key),
    );
    responses.slice(0, 6).forEach((r, i) => assert.equal(textOf(r.response), `Echo: Question number ${i}`));
    const validate = makeAjv().compile(PERSON_SCHEMA);
    assert.ok(validate(JSON.parse(textOf(responses[6]!.response))), JSON.stringify(validate.errors));
    assert.equal(responses[7]!.response, undefined);
    assert.equal(responses[7]!.error?.code, 3); // INVALID_ARGUMENT
    assert.match(responses[7]!.error?.message ?? '', /valid role/);

    // On the wire: an Operation with BATCH_STATE_*, string counts and the output in metadata and response.
    const id = created.name!.split('/')[1]!;
    const op = (await (await fetch(`${emulator.url}/v1/batches/${id}`, { headers: { 'x-goog-api-key': 'k' } })).json()) as Record<
      string,
      any
    >;
    assert.equal(op.done, true);
    assert.equal(op.metadata.state, 'BATCH_STATE_SUCCEEDED');
    assert.deepEqual(op.metadata.batchStats, {
      requestCount: '8',
      successfulRequestCount: '7',
      failedRequestCount: '1',
      pendingRequestCount: '0',
    });
    assert.match(op.metadata['@type'], /GenerateContentBatch$/);
    assert.deepEqual(op.response.inlinedResponses, op.metadata.output.inlinedResponses);

    const stats = emulator.stats();
    assert.equal(stats.gemini.batches_created, 1);
    assert.equal(stats.gemini.requests_received, 8);
    assert.deepEqual(stats.batches_by_key, { 'job-g': 1 });
  });

  it('runs a file batch: resumable upload, batch from files/…, responses file downloaded to disk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'drover-gemini-'));
    try {
      const schema = { type: 'OBJECT', properties: { label: { type: 'STRING', enum: ['pos', 'neg'] } }, required: ['label'] };
      const lines = Array.from({ length: 12 }, (_, i) =>
        JSON.stringify(
          i % 2 === 0
            ? { key: `k-${i}`, request: { contents: [{ role: 'user', parts: [{ text: `Item ${i}` }] }] } }
            : // Batch files are often written in snake_case, which the API accepts too.
              {
                key: `k-${i}`,
                request: {
                  contents: [{ parts: [{ text: `Item ${i}` }] }],
                  generation_config: { response_mime_type: 'application/json', response_schema: schema },
                },
              },
        ),
      );
      const inputPath = join(dir, 'input.jsonl');
      await writeFile(inputPath, `${[...lines, '{not json'].join('\n')}\n`);
      const file = await ai.files.upload({ file: inputPath, config: { mimeType: 'application/jsonl', displayName: 'batch input' } });
      assert.match(file.name ?? '', /^files\/[a-z0-9]+$/);
      assert.equal(file.state, 'ACTIVE');
      assert.equal(file.mimeType, 'application/jsonl');
      assert.equal(file.displayName, 'batch input');
      assert.equal(file.sizeBytes, String((await readFile(inputPath)).length));
      assert.equal((await ai.files.get({ name: file.name! })).sizeBytes, file.sizeBytes);

      const created = await ai.batches.create({ model: MODEL, src: file.name! });
      const done = await waitDone(ai, created.name!);
      assert.equal(done.state, JobState.JOB_STATE_SUCCEEDED);
      const responsesFile = done.dest?.fileName ?? '';
      assert.match(responsesFile, /^files\/batch-/);

      const outPath = join(dir, 'out.jsonl');
      await ai.files.download({ file: responsesFile, downloadPath: outPath });
      const text = await readFile(outPath, 'utf8');
      const out = text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { key?: string; response?: unknown; error?: { code: number } });
      assert.equal(out.length, 13);
      assert.deepEqual(new Set(out.filter((l) => l.key).map((l) => l.key)), new Set(Array.from({ length: 12 }, (_, i) => `k-${i}`)));
      assert.equal(out.filter((l) => l.error?.code === 3 && l.key === undefined).length, 1);
      for (const line of out.filter((l) => l.key !== undefined && Number(l.key.slice(2)) % 2 === 1)) {
        assert.ok(['pos', 'neg'].includes((JSON.parse(textOf(line.response)) as { label: string }).label));
      }
      // The REST guide's download URL serves the same bytes.
      const id = responsesFile.slice('files/'.length);
      const viaRest = await fetch(`${emulator.url}/download/v1beta/files/${id}:download?alt=media`, { headers: { 'x-goog-api-key': 'k' } });
      assert.equal(await viaRest.text(), text);

      // A file over the SDK's 8 MiB chunk size goes up in two chunks.
      const big = Buffer.alloc(9 * 1024 * 1024, 'x');
      const bigFile = await ai.files.upload({ file: new Blob([big], { type: 'text/plain' }) });
      assert.equal(bigFile.sizeBytes, String(big.length));
      const bigPath = join(dir, 'big.txt');
      await ai.files.download({ file: bigFile.name!, downloadPath: bigPath });
      assert.equal(
        createHash('sha256')
          .update(await readFile(bigPath))
          .digest('hex'),
        createHash('sha256').update(big).digest('hex'),
      );

      const stats = emulator.stats();
      assert.equal(stats.gemini.files_uploaded, 2);
      assert.equal(stats.requests['POST /upload/:version/files'], 2 + 3);
      assert.equal(stats.gemini.requests_received, 13);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('cancels mid-way and keeps the responses so far, in order', async () => {
    emulator.setFaults({ processing_ms: 1000 });
    const created = await ai.batches.create({ model: MODEL, src: inline(100) });
    await sleep(400);
    await ai.batches.cancel({ name: created.name! });
    const job = await ai.batches.get({ name: created.name! });
    assert.equal(job.state, JobState.JOB_STATE_CANCELLED);
    const responses = job.dest?.inlinedResponses ?? [];
    assert.ok(responses.length > 10 && responses.length < 90, `expected partial results, got ${responses.length}`);
    responses.forEach((r, i) => assert.equal(r.metadata?.key, `req-${i}`));
    await ai.batches.cancel({ name: created.name! }); // harmless once finished
    assert.equal(emulator.stats().gemini.batch_cancels, 1);
  });

  it('lists batches newest first across pages, and deletes them', async () => {
    const names: string[] = [];
    for (let i = 0; i < 5; i++) names.push((await ai.batches.create({ model: MODEL, src: inline(1) })).name!);
    const seen: string[] = [];
    for await (const job of await ai.batches.list({ config: { pageSize: 2 } })) seen.push(job.name!);
    assert.deepEqual(seen, [...names].reverse());
    assert.equal(emulator.stats().requests['GET /:version/batches'], 3);

    await ai.batches.delete({ name: names[0]! });
    const gone = await ai.batches.get({ name: names[0]! }).catch((e: unknown) => e);
    assert.ok(gone instanceof ApiError);
    assert.equal(gone.status, 404);
    assert.equal(errorBody(gone).error.status, 'NOT_FOUND');
    const viaVerb = await fetch(`${emulator.url}/v1beta/${names[1]}:delete`, { method: 'DELETE', headers: { 'x-goog-api-key': 'k' } });
    assert.equal(viaVerb.status, 200);
    assert.equal((await ai.batches.get({ name: names[2]! })).name, names[2]);
  });

  it('surfaces a 429 with RetryInfo as ApiError, and other errors as JSON bodies', async () => {
    emulator.setFaults({ http: [{ path: '/v1/models', status: 429, count: 1, retry_after_s: 7 }] });
    const limited = await ai.models.generateContent({ model: MODEL, contents: 'hi' }).catch((e: unknown) => e);
    assert.ok(limited instanceof ApiError);
    assert.equal(limited.status, 429);
    const body = errorBody(limited).error;
    assert.equal(body.code, 429);
    assert.equal(body.status, 'RESOURCE_EXHAUSTED');
    assert.deepEqual(
      body.details?.find((d) => d['@type'] === 'type.googleapis.com/google.rpc.RetryInfo'),
      {
        '@type': 'type.googleapis.com/google.rpc.RetryInfo',
        retryDelay: '7s',
      },
    );
    assert.equal((await ai.models.generateContent({ model: MODEL, contents: 'hi' })).text, 'Echo: hi');

    const noKey = await fetch(`${emulator.url}/v1beta/batches`);
    assert.equal(noKey.status, 403);
    assert.match(noKey.headers.get('content-type') ?? '', /application\/json/);
    assert.equal(((await noKey.json()) as { error: { status: string } }).error.status, 'PERMISSION_DENIED');
    const missingFile = await ai.batches.create({ model: MODEL, src: 'files/nope' }).catch((e: unknown) => e);
    assert.ok(missingFile instanceof ApiError);
    assert.equal(missingFile.status, 403);
  });

  it('applies batch_fail, batch_expire and line_errors to batches', async () => {
    emulator.setFaults({
      processing_ms: 0,
      batch_fail: { count: 1 },
      batch_expire: { count: 1, after_fraction: 0.5 },
      line_errors: { every: 3, status: 503 },
    });
    const failed = await waitDone(ai, (await ai.batches.create({ model: MODEL, src: inline(4) })).name!);
    assert.equal(failed.state, JobState.JOB_STATE_FAILED);
    assert.equal(failed.dest, undefined);
    const expired = await waitDone(ai, (await ai.batches.create({ model: MODEL, src: inline(10) })).name!);
    assert.equal(expired.state, JobState.JOB_STATE_EXPIRED);
    const responses = expired.dest?.inlinedResponses ?? [];
    assert.equal(responses.length, 5);
    assert.deepEqual(responses[2]?.error, { code: 14, message: 'The engine is currently overloaded, please try again later.' });
    const injected = emulator.stats().faults_injected;
    assert.deepEqual([injected.batch_fail, injected.batch_expire, injected.line_errors], [1, 1, 1]);
  });
});
