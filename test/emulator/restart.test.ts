/**
 * `stateDir`: an emulator process SIGKILLed mid-batch and started again on the same port and
 * directory answers for everything the killed one had, through each official SDK. Batches that
 * had ended read back byte for byte; running ones finish with the ids, counts and answers they
 * would have had without the restart (compared with an emulator that never stopped); a cancel
 * made just before the kill stands.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BatchCreateParams } from '@anthropic-ai/sdk/resources/messages/batches';
import { JobState, type InlinedRequest } from '@google/genai';
import { startEmulator, type Emulator, type FaultConfig } from '../../emulator/index.js';
import { spawnNode } from '../../stack/processes.js';
import {
  anthropicClient,
  chatLine,
  createBatch,
  geminiClient,
  PERSON_SCHEMA,
  readJsonl,
  sdkClient,
  sleep,
  TERMINAL,
  type InputLine,
} from './helpers.js';

const GEMINI_MODEL = 'gemini-2.5-flash';
const GEMINI_DONE = new Set<string>([
  JobState.JOB_STATE_SUCCEEDED,
  JobState.JOB_STATE_FAILED,
  JobState.JOB_STATE_CANCELLED,
  JobState.JOB_STATE_EXPIRED,
]);
/** Long enough that the batches are mid-way when the process is killed, short enough for a quick test. */
const PROCESSING_MS = 6000;

// Inputs mixing plain text and schema-shaped answers, so the compared content is not trivial.
const openaiLines = (n: number, prefix: string): InputLine[] =>
  Array.from({ length: n }, (_, i) =>
    chatLine(
      `${prefix}-${i}`,
      i % 2 === 0
        ? { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Question ${prefix} ${i}` }] }
        : {
            model: 'gpt-4o-mini',
            messages: [{ role: 'user', content: `Record ${prefix} ${i}` }],
            response_format: { type: 'json_schema', json_schema: { name: 'person', schema: PERSON_SCHEMA, strict: true } },
          },
    ),
  );
const anthropicRequests = (n: number, prefix: string): BatchCreateParams.Request[] =>
  Array.from({ length: n }, (_, i) => ({
    custom_id: `${prefix}-${i}`,
    params:
      i % 2 === 0
        ? { model: 'claude-sonnet-5-5', max_tokens: 256, messages: [{ role: 'user', content: `Question ${prefix} ${i}` }] }
        : {
            model: 'claude-sonnet-5-5',
            max_tokens: 1024,
            messages: [{ role: 'user', content: `Extract the person from ${prefix} ${i}` }],
            tools: [{ name: 'record_person', input_schema: PERSON_SCHEMA as never }],
            tool_choice: { type: 'tool', name: 'record_person' },
          },
  }));
const geminiRequest = (prefix: string, i: number) =>
  i % 2 === 0
    ? { contents: [{ role: 'user', parts: [{ text: `Question ${prefix} ${i}` }] }] }
    : {
        contents: [{ role: 'user', parts: [{ text: `Describe ${prefix} ${i}` }] }],
        generationConfig: { responseMimeType: 'application/json', responseJsonSchema: PERSON_SCHEMA },
      };
const geminiInline = (n: number, prefix: string): InlinedRequest[] =>
  Array.from({ length: n }, (_, i) => {
    const { contents, generationConfig } = geminiRequest(prefix, i) as { contents: InlinedRequest['contents']; generationConfig?: object };
    return { contents, ...(generationConfig ? { config: generationConfig } : {}), metadata: { key: `${prefix}-${i}` } };
  });
const geminiJsonl = (n: number, prefix: string): string =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ key: `${prefix}-${i}`, request: geminiRequest(prefix, i) })).join('\n') + '\n';

/** Fields minted afresh for every answer (ids, timestamps); everything else must match. */
const MINTED = new Set(['id', 'request_id', 'responseId', 'created']);
function content(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(content);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k]) => !MINTED.has(k))
      .map(([k, v]) => [k, content(v)]),
  );
}
function byKey<T>(lines: T[], key: (line: T) => string | undefined): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const line of lines) {
    const k = key(line) ?? '(none)';
    assert.ok(!out.has(k), `one result per request: ${k} twice`);
    out.set(k, content(line));
  }
  return out;
}

/** The three providers through their SDKs, against the emulator at `url`. */
function providers(url: string, scratch: string) {
  const openai = sdkClient(`${url}/v1`);
  const anthropic = anthropicClient(url);
  const gemini = geminiClient(url);
  return {
    openai: {
      create: async (n: number, prefix: string) => (await createBatch(openai, openaiLines(n, prefix))).id,
      get: (id: string) => openai.batches.retrieve(id),
      async ended(id: string) {
        return TERMINAL.has((await openai.batches.retrieve(id)).status);
      },
      cancel: (id: string) => openai.batches.cancel(id),
      async results(id: string) {
        const b = await openai.batches.retrieve(id);
        const raw = [
          ...(b.output_file_id ? [await (await openai.files.content(b.output_file_id)).text()] : []),
          ...(b.error_file_id ? [await (await openai.files.content(b.error_file_id)).text()] : []),
        ];
        const lines = [...(await readJsonl(openai, b.output_file_id)), ...(await readJsonl(openai, b.error_file_id))];
        return { raw: raw.join(''), byKey: byKey(lines, (l) => l.custom_id) };
      },
      client: openai,
    },
    anthropic: {
      create: async (n: number, prefix: string) => (await anthropic.messages.batches.create({ requests: anthropicRequests(n, prefix) })).id,
      get: (id: string) => anthropic.messages.batches.retrieve(id),
      async ended(id: string) {
        return (await anthropic.messages.batches.retrieve(id)).processing_status === 'ended';
      },
      cancel: (id: string) => anthropic.messages.batches.cancel(id),
      async results(id: string) {
        const lines = [];
        for await (const r of await anthropic.messages.batches.results(id)) lines.push(r);
        const raw = await (
          await fetch(`${url}/v1/messages/batches/${id}/results`, { headers: { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' } })
        ).text();
        return { raw, byKey: byKey(lines, (l) => l.custom_id) };
      },
    },
    gemini: {
      create: async (n: number, prefix: string) =>
        (await gemini.batches.create({ model: GEMINI_MODEL, src: geminiInline(n, prefix) })).name!,
      async createFromFile(n: number, prefix: string) {
        const file = await gemini.files.upload({
          file: new Blob([geminiJsonl(n, prefix)], { type: 'application/jsonl' }),
          config: { mimeType: 'application/jsonl' },
        });
        return (await gemini.batches.create({ model: GEMINI_MODEL, src: file.name! })).name!;
      },
      get: (name: string) => gemini.batches.get({ name }),
      async ended(name: string) {
        return GEMINI_DONE.has((await gemini.batches.get({ name })).state ?? '');
      },
      cancel: (name: string) => gemini.batches.cancel({ name }),
      async results(name: string) {
        const job = await gemini.batches.get({ name });
        if (job.dest?.fileName) {
          const path = join(scratch, `${job.dest.fileName.replace('/', '_')}-${Date.now()}.jsonl`);
          await gemini.files.download({ file: job.dest.fileName, downloadPath: path });
          const raw = await readFile(path, 'utf8');
          const lines = raw
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => JSON.parse(l) as { key?: string });
          return { raw, byKey: byKey(lines, (l) => l.key) };
        }
        const inlined = job.dest?.inlinedResponses ?? [];
        return { raw: JSON.stringify(inlined), byKey: byKey(inlined, (r) => r.metadata?.key as string | undefined) };
      },
    },
  };
}
type Providers = ReturnType<typeof providers>;
type Name = keyof Providers;
const NAMES: Name[] = ['openai', 'anthropic', 'gemini'];

async function waitEnded(p: Providers, name: Name, id: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await p[name].ended(id))) {
    if (Date.now() > deadline) throw new Error(`${name} batch ${id} has not ended after ${timeoutMs} ms`);
    await sleep(50);
  }
}

interface EmulatorProcess {
  child: ChildProcess;
  url: string;
  output(): string;
}

/** `emulator/main.ts` as a process of its own, so it can be SIGKILLed like a crashed server. */
async function startProcess(port: number, stateDir: string): Promise<EmulatorProcess> {
  const { child, output } = await spawnNode(
    'emulator/main.ts',
    { PORT: String(port), EMULATOR_STATE_DIR: stateDir, EMULATOR_PROCESSING_MS: String(PROCESSING_MS) },
    'emulator listening',
  );
  const url = /"url":"(http:\/\/[^"]+)"/.exec(output())?.[1];
  assert.ok(url, `the emulator logs its url:\n${output()}`);
  return { child, url, output };
}

async function sigkill(p: EmulatorProcess): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = once(p.child, 'exit');
  p.child.kill('SIGKILL');
  await exited;
}

async function setFaults(url: string, faults: FaultConfig): Promise<void> {
  const res = await fetch(`${url}/_emulator/faults`, { method: 'PUT', body: JSON.stringify(faults) });
  assert.equal(res.status, 200, await res.text());
}

const port = (url: string): number => Number(new URL(url).port);

describe('an emulator restarted on its state dir', () => {
  let scratch: string;
  let stateDir: string;
  let running: EmulatorProcess | undefined;
  let reference: Emulator;

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'drover-emulator-restart-'));
    stateDir = join(scratch, 'state');
    [running, reference] = await Promise.all([startProcess(0, stateDir), startEmulator({ processingMs: 0 })]);
  });
  after(async () => {
    if (running) await sigkill(running);
    await reference.close();
    await rm(scratch, { recursive: true, force: true });
  });

  it('keeps ended, running and cancelled batches of every provider across a SIGKILL', async (t) => {
    const first = running!;
    let p = providers(first.url, scratch);

    // Ended before the kill: read now, read again after.
    await setFaults(first.url, { processing_ms: 0 });
    const ended = {} as Record<Name, { id: string; wire: unknown; raw: string }>;
    for (const name of NAMES) {
      const id = await p[name].create(6, `${name}-ended`);
      await waitEnded(p, name, id);
      ended[name] = { id, wire: await p[name].get(id), raw: (await p[name].results(id)).raw };
    }

    // Running at the kill, and cancelled just before it, part-way through.
    await setFaults(first.url, { processing_ms: PROCESSING_MS });
    const runningIds: Record<Name, string> = {
      openai: await p.openai.create(40, 'openai-run'),
      anthropic: await p.anthropic.create(40, 'anthropic-run'),
      gemini: await p.gemini.createFromFile(40, 'gemini-run'),
    };
    const cancelIds = {} as Record<Name, string>;
    for (const name of NAMES) cancelIds[name] = await p[name].create(30, `${name}-cancel`);
    const inputFileId = (await p.openai.get(runningIds.openai)).input_file_id;
    // Wait until the OpenAI batch to cancel has answered a few lines, then cancel all three and kill.
    for (;;) {
      const b = await p.openai.get(cancelIds.openai);
      if ((b.request_counts?.completed ?? 0) >= 5) break;
      await sleep(25);
    }
    const openaiCancelling = await p.openai.cancel(cancelIds.openai);
    await p.anthropic.cancel(cancelIds.anthropic);
    await p.gemini.cancel(cancelIds.gemini);
    const geminiCancelled = await p.gemini.get(cancelIds.gemini);
    const runningBefore = await p.openai.get(runningIds.openai);
    await sigkill(first);
    running = undefined;
    assert.equal(openaiCancelling.status, 'cancelling');
    assert.equal(runningBefore.status, 'in_progress', 'the running batch was mid-way at the kill');
    const answeredAtCancel = openaiCancelling.request_counts!.completed;
    assert.ok(answeredAtCancel > 0 && answeredAtCancel < 30, `answered at the cancel: ${answeredAtCancel}`);
    t.diagnostic(
      `killed with the OpenAI batch at ${runningBefore.request_counts?.completed}/40 and ${answeredAtCancel}/30 answered at its cancel`,
    );

    // A write the kill cut short, and a blob whose object was never committed: neither may break the start.
    await writeFile(join(stateDir, 'openai', 'batches', 'batch_cut.json.tmp'), '{"v":1,"seq":99,"rec');
    await writeFile(join(stateDir, 'openai', 'files', 'file-orphan.content'), 'orphan');
    await writeFile(join(stateDir, 'anthropic', 'batches', 'msgbatch_garbled.json'), '{"v":1,"seq":');

    const second = await startProcess(port(first.url), stateDir);
    running = second;
    assert.equal(second.url, first.url);
    assert.match(second.output(), /"restored":\{"files":\d+,"batches":9\}/, 'nine batches restored');
    assert.match(second.output(), /skipping .*msgbatch_garbled\.json/, 'the garbled object is skipped with a warning');
    assert.ok(!existsSync(join(stateDir, 'openai', 'batches', 'batch_cut.json.tmp')), 'the cut-short write is swept away');
    assert.ok(!existsSync(join(stateDir, 'openai', 'files', 'file-orphan.content')), 'the orphaned blob is swept away');
    p = providers(second.url, scratch);
    const stats = (await (await fetch(`${second.url}/_emulator/stats`)).json()) as { batches_created: number };
    assert.equal(stats.batches_created, 0, 'a new process: nothing was created in it');

    // Ended batches read back exactly as before.
    for (const name of NAMES) {
      assert.deepEqual(await p[name].get(ended[name].id), ended[name].wire, `${name}: the ended batch reads as before`);
      assert.equal((await p[name].results(ended[name].id)).raw, ended[name].raw, `${name}: the same result bytes`);
    }
    assert.equal((await p.openai.client.files.retrieve(inputFileId)).id, inputFileId, 'the input file is still there');

    // Running batches run on and give what an emulator that never stopped gives for the same input.
    const ref = providers(reference.url, scratch);
    const refIds: Record<Name, string> = {
      openai: await ref.openai.create(40, 'openai-run'),
      anthropic: await ref.anthropic.create(40, 'anthropic-run'),
      gemini: await ref.gemini.createFromFile(40, 'gemini-run'),
    };
    for (const name of NAMES) {
      await waitEnded(p, name, runningIds[name]);
      await waitEnded(ref, name, refIds[name]);
      const [after, expected] = [await p[name].results(runningIds[name]), await ref[name].results(refIds[name])];
      assert.equal(after.byKey.size, 40, `${name}: every request answered once`);
      assert.deepEqual(after.byKey, expected.byKey, `${name}: the answers are those of an uninterrupted run`);
    }
    const openaiDone = await p.openai.get(runningIds.openai);
    assert.equal(openaiDone.id, runningIds.openai);
    assert.equal(openaiDone.status, 'completed');
    assert.deepEqual(openaiDone.request_counts, (await ref.openai.get(refIds.openai)).request_counts);
    assert.deepEqual(openaiDone.usage, (await ref.openai.get(refIds.openai)).usage);
    assert.equal(openaiDone.created_at, runningBefore.created_at);
    assert.equal(openaiDone.in_progress_at, runningBefore.in_progress_at);
    assert.deepEqual(
      (await p.anthropic.get(runningIds.anthropic)).request_counts,
      (await ref.anthropic.get(refIds.anthropic)).request_counts,
    );
    assert.equal((await p.gemini.get(runningIds.gemini)).state, JobState.JOB_STATE_SUCCEEDED);

    // The cancels stand, with what was answered before them.
    const openaiCancelled = await p.openai.get(cancelIds.openai);
    assert.equal(openaiCancelled.status, 'cancelled');
    assert.deepEqual(openaiCancelled.request_counts, { total: 30, completed: answeredAtCancel, failed: 0 });
    const openaiCancelResults = (await p.openai.results(cancelIds.openai)).byKey;
    assert.equal(openaiCancelResults.size, 30);
    assert.equal([...openaiCancelResults.values()].filter((l) => (l as { error: unknown }).error !== null).length, 30 - answeredAtCancel);
    const anthropicCancelled = await p.anthropic.get(cancelIds.anthropic);
    assert.equal(anthropicCancelled.processing_status, 'ended');
    assert.ok(anthropicCancelled.cancel_initiated_at);
    const ac = anthropicCancelled.request_counts;
    assert.equal(ac.succeeded + ac.canceled, 30);
    assert.ok(ac.canceled > 0, `the Anthropic cancel stands: ${JSON.stringify(ac)}`);
    assert.deepEqual(await p.gemini.get(cancelIds.gemini), geminiCancelled, 'the Gemini cancel reads as before');
    assert.ok((geminiCancelled.dest?.inlinedResponses?.length ?? 0) < 30);

    // New batches come after the kept ones, newest first, as before the restart.
    const newest = await p.openai.create(2, 'openai-after');
    const listed = (await p.openai.client.batches.list({ limit: 100 })).data.map((b) => b.id);
    assert.deepEqual(listed, [newest, cancelIds.openai, runningIds.openai, ended.openai.id]);
  });

  it('keeps every create it answered, whenever it is killed', async (t) => {
    const first = running!;
    await setFaults(first.url, { processing_ms: PROCESSING_MS });
    const p = providers(first.url, scratch);
    // Creates race the kill: some are answered before it, some are cut off; the answered ones must all survive.
    const answered: Array<{ name: Name; id: string }> = [];
    let stop = false;
    const loops = NAMES.map(async (name) => {
      for (let i = 0; !stop; i++) {
        try {
          answered.push({ name, id: await p[name].create(3, `${name}-race-${i}`) });
        } catch {
          return; // cut off by the kill
        }
      }
    });
    await sleep(1500);
    await sigkill(first);
    stop = true;
    running = undefined;
    await Promise.all(loops);
    assert.ok(answered.length >= 3, `creates answered before the kill: ${answered.length}`);
    t.diagnostic(`${answered.length} creates answered before the kill, all found again`);

    const second = await startProcess(port(first.url), stateDir);
    running = second;
    const q = providers(second.url, scratch);
    for (const { name, id } of answered) await q[name].get(id); // throws if it is gone
    const leftovers = (await readdir(join(stateDir, 'openai', 'batches'))).filter((f) => f.endsWith('.tmp'));
    assert.deepEqual(leftovers, []);
  });
});
