import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from '@temporalio/client';
import { pino } from 'pino';
import { ApiEnv } from '../../api/config.js';
import { startApi } from '../../api/start.js';
import { ENCRYPTED_ENCODING, EncryptionCodec, newEncryptionKeySpec, parseEncryptionKeys } from '../../config/encryption.js';
import { spawnNode, type NodeProcess } from '../../stack/processes.js';
import { findTemporalCli, freePort, startTemporalDevServer, stopChild, type DevServer } from '../../stack/temporal-server.js';
import { useStack } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';

const run = promisify(execFile);
const b64 = (s: string) => Buffer.from(s).toString('base64');
const ENCRYPTED_B64 = b64(ENCRYPTED_ENCODING);
const MARKER = 'PRIVATE-ITEM-TEXT-5c1e';
const SYSTEM_PROMPT = 'SYSTEM-PROMPT-SECRET-91ab: label the sentiment.';

/**
 * Every payload (`{metadata, data}`) in a history in proto3 JSON form, but search attributes
 * (indexed, so never encoded) and patch markers' ids.
 */
function payloadsIn(node: unknown, out: Array<{ metadata: Record<string, string>; data?: string; path?: string }> = [], path = '') {
  if (Array.isArray(node)) node.forEach((n, i) => payloadsIn(n, out, `${path}[${i}]`));
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (o.metadata && typeof o.metadata === 'object' && 'encoding' in (o.metadata as object)) {
      out.push({ ...(o as any), path });
      // Patch markers are written by the SDK's core, outside the codec: they hold only a patch id.
    } else for (const [k, v] of Object.entries(o)) if (k !== 'searchAttributes' && k !== 'patch-data') payloadsIn(v, out, `${path}.${k}`);
  }
  return out;
}

/** A history with its bytes in base64: proto3 JSON, as the Temporal UI and `temporal workflow show -o json` see it. */
function bytesToB64(history: unknown): any {
  const walk = (n: unknown): unknown => {
    if (n instanceof Uint8Array) return Buffer.from(n).toString('base64');
    if (Array.isArray(n)) return n.map(walk);
    if (n && typeof n === 'object') return Object.fromEntries(Object.entries(n).map(([k, v]) => [k, walk(v)]));
    return n;
  };
  return walk(history);
}

/**
 * Issue #11 §5 against the real stack: payloads are AES-256-GCM in Temporal, the UI reads them
 * through the API's codec endpoint (admin key only), failure messages and logs carry no prompt
 * text or key, and a new key rotates in without losing the old histories.
 */
describe('nothing secret at rest in Temporal or in logs', () => {
  const oldKeys = newEncryptionKeySpec('old');
  let apiPort: number;
  let uiPort: number;
  let temporal: DevServer;
  // A dev server of this file's own, with its Web UI pointed at this stack's codec endpoint.
  before(async () => {
    [apiPort, uiPort] = [await freePort(), await freePort()];
    temporal = await startTemporalDevServer({ headless: false, uiPort, uiCodecEndpoint: `http://127.0.0.1:${apiPort}/codec` });
  });
  const uiOrigin = () => `http://127.0.0.1:${uiPort}`;
  const stack = useStack({
    processingMs: 200,
    worker: true,
    encryptionKeys: oldKeys,
    temporalAddress: () => temporal.address,
    api: {
      get PORT() {
        return String(apiPort);
      },
      get DROVER_CODEC_CORS_ORIGINS() {
        return uiOrigin();
      },
    },
  });
  after(() => temporal?.stop());

  let batchId = '';
  let tenantKey = '';
  const raw = () => new Client({ connection: stack.client.connection, namespace: stack.temporal.namespace });

  test('a batch runs end to end with encryption on, and its raw histories hold only binary/encrypted payloads', async () => {
    const created = await stack.post('/v1/batches', {
      model: 'gpt-4.1-mini',
      mode: 'batch',
      chunk_size: 5,
      system_prompt: SYSTEM_PROMPT,
      items: Array.from({ length: 10 }, (_, i) => ({ id: `e${i}`, content: `${MARKER} ${i}` })),
    });
    assert.equal(created.status, 202, created.text);
    batchId = created.body.id;
    const done = await stack.waitForBatch(batchId, 60_000);
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.equal(done.counts.succeeded, 10);
    const results = await stack.get(`/v1/batches/${batchId}/results?format=jsonl`);
    assert.match(results.text, new RegExp(MARKER), 'the emulator echoes item text, so the checks below can fail');

    const client = raw();
    for (const id of [batchId, `${batchId}/chunk-0`, `${batchId}/chunk-1`]) {
      const history = await client.workflow.getHandle(id).fetchHistory();
      const json = bytesToB64(history);
      const text = JSON.stringify(json);
      const payloads = payloadsIn(json);
      assert.ok(payloads.length >= 3, `${id}: ${payloads.length} payloads`);
      const encodings = new Set(payloads.map((p) => p.metadata.encoding));
      const plain = payloads.filter((p) => p.metadata.encoding !== ENCRYPTED_B64).map((p) => p.path);
      assert.deepEqual([...encodings], [ENCRYPTED_B64], `${id}: every payload is binary/encrypted; not: ${plain.join(', ')}`);
      assert.ok(payloads.every((p) => p.metadata['encryption-key-id'] === b64('old')));
      for (const secret of [MARKER, SYSTEM_PROMPT, stack.adminKey, 'sk-test-secret', 'maxParallelChunks', 'providerBatchId']) {
        assert.ok(!text.includes(secret) && !text.includes(b64(secret).slice(0, 16)), `${id}: "${secret}" is not in the raw history`);
      }
    }
  });

  test('`temporal workflow show -o json` shows binary/encrypted; with the codec endpoint and an admin key it shows the input', async () => {
    const cli = findTemporalCli();
    assert.ok(cli, 'the temporal CLI is installed (.ci/run puts it in .tools/venv/bin)');
    const base = [
      'workflow',
      'show',
      '-w',
      batchId,
      '--namespace',
      stack.temporal.namespace,
      '--address',
      stack.temporal.address,
      '-o',
      'json',
    ];
    const show = async (extra: string[]) => {
      const out = await run(cli, [...base, ...extra], { maxBuffer: 64 << 20 }).then(
        (r) => r.stdout,
        (e: { stdout?: string; stderr?: string }) => `${e.stdout}${e.stderr}`,
      );
      const payloads = out.trimStart().startsWith('{') ? payloadsIn(JSON.parse(out)) : [];
      const texts = payloads.map((p) => Buffer.from(p.data ?? '', 'base64').toString());
      return { out, payloads, texts };
    };
    const plain = await show([]);
    assert.ok(plain.payloads.length > 0, plain.out.slice(0, 500));
    assert.ok(plain.payloads.every((p) => p.metadata.encoding === ENCRYPTED_B64));
    assert.ok(!plain.texts.some((t) => t.includes('maxParallelChunks')) && !plain.out.includes(MARKER));
    const endpoint = ['--codec-endpoint', `${stack.api.url}/codec`];
    const decoded = await show([...endpoint, '--codec-auth', `Bearer ${stack.adminKey}`]);
    assert.ok(decoded.payloads.every((p) => p.metadata.encoding !== ENCRYPTED_B64));
    assert.ok(
      decoded.texts.some((t) => t.includes('"maxParallelChunks"')),
      'decoded through the API: the workflow input is readable',
    );
    // Without a key, or with a tenant key, the endpoint refuses (401, 403: next test); the CLI then
    // retries for about ten seconds before it prints the payloads undecoded, so it is not run here.
  });

  test('the codec endpoint: admin key decodes, no key is 401, a tenant key 403; the UI, pointed at it, decodes with its cookie', async () => {
    const history = await raw().workflow.getHandle(batchId).fetchHistory();
    const payloads = payloadsIn(bytesToB64(history)).slice(0, 5);
    const body = { payloads };
    const post = (headers: Record<string, string>) =>
      fetch(`${stack.api.url}/codec/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });

    const ok = await post({ authorization: `Bearer ${stack.adminKey}`, 'x-namespace': stack.temporal.namespace });
    assert.equal(ok.status, 200);
    const decoded = (await ok.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> };
    assert.equal(decoded.payloads.length, payloads.length);
    assert.ok(decoded.payloads.every((p) => p.metadata.encoding !== ENCRYPTED_B64));
    const texts = decoded.payloads.map((p) => Buffer.from(p.data ?? '', 'base64').toString());
    assert.ok(
      texts.some((t) => t.includes(`"batchId":"${batchId}"`)),
      texts.join('\n').slice(0, 500),
    );

    const none = await post({});
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as any).error.type, 'authentication_error');
    tenantKey = (await stack.createKey({ tenant: 'acme', scopes: ['batches:read', 'batches:write'] })).key;
    const tenant = await post({ authorization: `Bearer ${tenantKey}` });
    assert.equal(tenant.status, 403);
    assert.equal(((await tenant.json()) as any).error.type, 'permission_error');
    const encode = await fetch(`${stack.api.url}/codec/encode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.adminKey}` },
      body: JSON.stringify(decoded),
    });
    const reencoded = (await encode.json()) as typeof decoded;
    assert.ok(reencoded.payloads.every((p) => p.metadata.encoding === ENCRYPTED_B64));

    // The dev server's UI was started with --ui-codec-endpoint: its settings name this API.
    const settings = (await (await fetch(`${uiOrigin()}/api/v1/settings`)).json()) as any;
    assert.equal(settings.Codec?.Endpoint, `http://127.0.0.1:${apiPort}/codec`, JSON.stringify(settings.Codec));
    // What the UI's browser does: history from the UI server, then POST {endpoint}/decode with the
    // cookie `/codec/session` set, after a CORS preflight from the UI's origin.
    const uiHistory = (await (
      await fetch(`${uiOrigin()}/api/v1/namespaces/${stack.temporal.namespace}/workflows/${encodeURIComponent(batchId)}/history`)
    ).json()) as any;
    const uiPayloads = payloadsIn(uiHistory.history?.events ?? uiHistory.events);
    assert.ok(
      uiPayloads.length > 0 && uiPayloads.every((p) => p.metadata.encoding === ENCRYPTED_B64),
      'the UI sees only encrypted payloads',
    );

    const preflight = await fetch(`${settings.Codec.Endpoint}/decode`, {
      method: 'OPTIONS',
      headers: {
        origin: uiOrigin(),
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-namespace',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), uiOrigin());
    assert.equal(preflight.headers.get('access-control-allow-credentials'), 'true');
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /X-Namespace/i);
    const elsewhere = await fetch(`${settings.Codec.Endpoint}/decode`, { method: 'OPTIONS', headers: { origin: 'http://evil.example' } });
    assert.equal(elsewhere.headers.get('access-control-allow-origin'), null, 'no other origin may read decoded payloads');

    const session = await fetch(`${stack.api.url}/codec/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ key: stack.adminKey }).toString(),
      redirect: 'manual',
    });
    assert.equal(session.status, 200);
    const cookie = (session.headers.get('set-cookie') ?? '').split(';')[0]!;
    assert.match(session.headers.get('set-cookie') ?? '', /HttpOnly; SameSite=Strict/);
    const fromUi = await fetch(`${settings.Codec.Endpoint}/decode`, {
      method: 'POST',
      headers: { origin: uiOrigin(), cookie, 'content-type': 'application/json', 'x-namespace': stack.temporal.namespace },
      body: JSON.stringify({ payloads: uiPayloads }),
    });
    assert.equal(fromUi.status, 200);
    assert.equal(fromUi.headers.get('access-control-allow-origin'), uiOrigin());
    const uiDecoded = JSON.stringify(await fromUi.json());
    assert.ok(Buffer.from(uiDecoded).length > 0 && !uiDecoded.includes(ENCRYPTED_B64), 'the UI gets plain payloads back');
    const tenantSession = await fetch(`${stack.api.url}/codec/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ key: tenantKey }).toString(),
    });
    assert.equal(tenantSession.status, 403);
    assert.equal(tenantSession.headers.get('set-cookie'), null);
  });

  test('a provider error that echoes the prompt and the key: neither reaches the history nor the worker and API logs', async () => {
    // A hostile OpenAI-compatible server: 401 quoting the key it was sent and the prompt.
    const providerKey = 'sk-compat-secret-never-logged-3f9d';
    let calls = 0;
    const hostile: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        calls++;
        const prompt = JSON.parse(body || '{}').messages?.at(-1)?.content ?? '';
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: {
              message: `Incorrect API key provided: ${req.headers.authorization} for the request with content '${prompt}' and "${prompt}"`,
              type: 'invalid_request_error',
              code: 'invalid_api_key',
            },
          }),
        );
      });
    });
    await new Promise<void>((r) => hostile.listen(0, '127.0.0.1', r));
    const hostileUrl = `http://127.0.0.1:${(hostile.address() as { port: number }).port}/v1`;
    let api: NodeProcess | undefined;
    try {
      await stack.stopWorkers();
      const worker = await stack.startWorker({ OPENAI_COMPATIBLE_BASE_URL: hostileUrl, OPENAI_COMPATIBLE_API_KEY: providerKey });
      const port = await freePort();
      api = await spawnNode(
        'api/server.ts',
        {
          DATABASE_URL: stack.database.url,
          TEMPORAL_ADDRESS: stack.temporal.address,
          TEMPORAL_NAMESPACE: stack.temporal.namespace,
          DROVER_TASK_QUEUE: stack.taskQueue,
          DROVER_ADMIN_KEY: stack.adminKey,
          DROVER_ENCRYPTION_KEYS: stack.encryptionKeys,
          PORT: String(port),
          LOG_LEVEL: 'info',
        },
        'API listening',
      );
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${stack.adminKey}` };
      const res = await fetch(`http://127.0.0.1:${port}/v1/batches`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          model: 'openai_compatible/echo-model',
          system_prompt: SYSTEM_PROMPT,
          prices: { input_per_mtok: 1, output_per_mtok: 1 },
          items: [{ id: 'x1', content: `${MARKER} hostile` }],
        }),
      });
      const created = (await res.json()) as any;
      assert.equal(res.status, 202, JSON.stringify(created));
      const done = await stack.waitForBatch(created.id, 60_000);
      assert.notEqual(done.status, 'completed');
      assert.ok(calls > 0, 'the hostile provider was called');

      const events = JSON.stringify(bytesToB64(await raw().workflow.getHandle(`${created.id}/chunk-0`).fetchHistory()));
      assert.match(events, /ProviderAuthentication/, 'the failure is in the history');
      assert.match(events, /Incorrect API key provided/, 'with the provider message, sanitised');
      const logs = { worker: worker.output(), api: api.output(), history: events };
      assert.match(logs.api, /"status":202/, 'the API logged the submit');
      await until(worker.output, (o) => o.includes('chunk failed'), { what: 'the worker logged the failure' });
      logs.worker = worker.output();
      assert.match(logs.worker, /Incorrect API key provided: Bearer \[redacted\] for the request with content '\[\d+ chars elided\]'/);
      for (const [where, text] of Object.entries(logs)) {
        for (const secret of [providerKey, MARKER, SYSTEM_PROMPT, stack.adminKey, 'sk-test-secret-key']) {
          assert.ok(!text.includes(secret), `"${secret}" is not in the ${where} output`);
        }
      }
      console.log(
        `worker log ${logs.worker.length} bytes, API log ${logs.api.length} bytes, chunk history ${events.length} bytes: no key, no item text`,
      );
    } finally {
      if (api) await stopChild(api.child);
      hostile.close();
      await stack.stopWorkers();
      await stack.startWorker();
    }
  });

  test('rotation: with a new key first, the old histories still decode and new payloads use the new key', async () => {
    const rotated = `${newEncryptionKeySpec('new')},${oldKeys}`;
    // A batch that waits on its provider while the keys change under it.
    stack.emulator.setFaults({ processing_ms: 3000 });
    const created = await stack.post('/v1/batches', {
      model: 'gpt-4.1-mini',
      mode: 'batch',
      chunk_size: 5,
      items: Array.from({ length: 5 }, (_, i) => ({ id: `r${i}`, content: `${MARKER} rotate ${i}` })),
    });
    assert.equal(created.status, 202, created.text);
    const id = created.body.id;
    await until(
      () => stack.get(`/v1/batches/${id}`),
      (r) => r.body.status === 'running',
      { what: 'running' },
    );
    await stack.stopWorkers();
    // Every process learns the new key; the new worker replays the old-key history from scratch.
    const second = await startApi(
      ApiEnv.parse({
        DATABASE_URL: stack.database.url,
        TEMPORAL_ADDRESS: stack.temporal.address,
        TEMPORAL_NAMESPACE: stack.temporal.namespace,
        DROVER_TASK_QUEUE: stack.taskQueue,
        DROVER_ADMIN_KEY: stack.adminKey,
        DROVER_ENCRYPTION_KEYS: rotated,
        PORT: '0',
      }),
      stack.db,
      pino({ level: 'silent' }),
    );
    try {
      await stack.startWorker({ DROVER_ENCRYPTION_KEYS: rotated });
      const done = await until(
        () => fetch(`${second.url}/v1/batches/${id}`, { headers: stack.auth }).then((r) => r.json() as Promise<any>),
        (b) => ['completed', 'failed', 'completed_with_failures'].includes(b.status),
        // An activity the stopped worker had in flight is retried only when its timeout passes (a minute for a poll).
        { what: 'batch done after rotation', timeoutMs: 180_000 },
      );
      assert.equal(done.status, 'completed', JSON.stringify(done));
      assert.equal(done.counts.succeeded, 5);
      // The batch's input was encrypted by the API with the old key; what the new worker wrote, with the new one.
      const histories = await Promise.all([id, `${id}/chunk-0`].map((w) => raw().workflow.getHandle(w).fetchHistory()));
      const payloads = histories.flatMap((h) => payloadsIn(bytesToB64(h)));
      const ids = new Set(payloads.map((p) => Buffer.from(p.metadata['encryption-key-id'] ?? '', 'base64').toString()));
      assert.deepEqual([...ids].sort(), ['new', 'old'], 'the history holds payloads of both keys');
      // The rotated key set reads both; the old set alone cannot read the new payloads.
      const both = new EncryptionCodec(parseEncryptionKeys(rotated));
      await both.decode(payloads.map(fromJson));
      const oldOnly = new EncryptionCodec(parseEncryptionKeys(oldKeys));
      await assert.rejects(oldOnly.decode(payloads.map(fromJson)), /no key "new"/);
    } finally {
      stack.emulator.setFaults({});
      await second.close();
    }
  });
});

function fromJson(p: { metadata: Record<string, string>; data?: string }) {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    ...(p.data ? { data: Buffer.from(p.data, 'base64') } : {}),
  };
}
