import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { DroverClient } from '../../client/index.js';
import { useStack } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCHEMA = {
  type: 'object',
  properties: { topic: { type: 'string', enum: ['billing', 'shipping', 'other'] } },
  required: ['topic'],
  additionalProperties: false,
};
const response_format = { type: 'json_schema', json_schema: { name: 'triage', schema: SCHEMA, strict: true } };
const items = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ id: `${tag}-${i}`, content: `[${tag}] ticket ${i}` }));

/** `drover` as a user runs it, against this stack. */
function drover(url: string, key: string, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, DROVER_URL: url, DROVER_API_KEY: key, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Rerunning what failed: POST /v1/batches/:id/rerun, the TS client and `drover rerun`, against the real stack. */
describe('rerun', () => {
  const stack = useStack({ processingMs: 100, worker: true });

  /** A realtime batch whose first `failures` calls the provider refuses (400: not retried). */
  async function withFailures(tag: string, n: number, failures: number) {
    stack.emulator.setFaults({ http: [{ path: '/v1/chat/completions', status: 400, count: failures }] });
    const created = await stack.post('/v1/batches', {
      model: 'gpt-4.1-mini',
      mode: 'realtime',
      items: items(n, tag),
      response_format,
      max_attempts: 1,
      metadata: { team: 'ops' },
    });
    assert.equal(created.status, 202, created.text);
    const done = await stack.waitForBatch(created.body.id, 60_000);
    stack.emulator.setFaults({});
    assert.equal(done.counts.failed, failures);
    return done;
  }

  test('the failed items run again as a new batch with the same settings, linked both ways', async () => {
    const old = await withFailures('failed', 6, 2);
    const failedIds = (await stack.get(`/v1/batches/${old.id}/results?status=failed`)).body.data.map((r: any) => r.id).sort();
    const before = stack.emulator.stats();

    const created = await stack.post(`/v1/batches/${old.id}/rerun`, {});
    assert.equal(created.status, 202, created.text);
    assert.equal(created.headers.get('location'), `/v1/batches/${created.body.id}`);
    assert.equal(created.body.rerun_of, old.id);
    assert.equal(created.body.counts.total, 2);
    assert.equal(created.body.model, 'gpt-4.1-mini');
    assert.deepEqual(created.body.metadata, { team: 'ops' });
    const done = await stack.waitForBatch(created.body.id, 60_000);
    assert.equal(done.status, 'completed');
    assert.equal(stack.emulator.stats().chat_completions - before.chat_completions, 2, 'only the failed items were sent');
    const rows = (await stack.get(`/v1/batches/${done.id}/results`)).body.data;
    assert.deepEqual(rows.map((r: any) => r.id).sort(), failedIds);
    assert.ok(rows.every((r: any) => r.status === 'succeeded' && typeof r.output.topic === 'string'));

    // Copied inside PostgreSQL: the very same stored inputs, numbered from 0, with the old settings.
    const copied = await stack.db.query(
      `SELECT n.seq, n.item_id, n.input = o.input AS same FROM items n JOIN items o ON o.batch_id = $2 AND o.item_id = n.item_id
       WHERE n.batch_id = $1 ORDER BY n.seq`,
      [done.id, old.id],
    );
    assert.deepEqual(
      copied.rows.map((r) => [r.seq, r.same]),
      [
        [0, true],
        [1, true],
      ],
    );
    const settings = await stack.db.query('SELECT spec, settings, mode FROM batches WHERE id = ANY($1) ORDER BY created_at', [
      [old.id, done.id],
    ]);
    assert.deepEqual(settings.rows[1], settings.rows[0]);

    const oldView = (await stack.get(`/v1/batches/${old.id}`)).body;
    assert.deepEqual(oldView.reruns, [done.id]);
    assert.equal(oldView.rerun_of, null);

    // Nothing failed in the rerun: a rerun of it has nothing to run.
    const nothing = await stack.post(`/v1/batches/${done.id}/rerun`, {});
    assert.equal(nothing.status, 409);
    assert.equal(nothing.body.error.type, 'nothing_to_rerun');
  });

  test('a running batch is refused (409); once cancelled, its cancelled items rerun with another model through the client', async () => {
    stack.emulator.setFaults({ processing_ms: 60_000 });
    const created = await stack.post('/v1/batches', { model: 'gpt-4.1-mini', mode: 'batch', items: items(5, 'running') });
    assert.equal(created.status, 202, created.text);
    const id = created.body.id;
    await until(
      async () => (await stack.get(`/v1/batches/${id}`)).body.status,
      (s) => s === 'running',
    );
    const refused = await stack.post(`/v1/batches/${id}/rerun`, {});
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.type, 'batch_not_ended');
    assert.equal((await stack.db.query('SELECT count(*)::int AS n FROM batches WHERE rerun_of = $1', [id])).rows[0].n, 0);

    assert.equal((await stack.post(`/v1/batches/${id}/cancel`, {})).status, 202);
    const cancelled = await stack.waitForBatch(id, 60_000);
    stack.emulator.setFaults({});
    assert.equal(cancelled.status, 'cancelled');

    const client = new DroverClient({ baseUrl: stack.api.url, apiKey: stack.adminKey });
    await assert.rejects(client.batches.rerun(id), (err: any) => err.status === 409 && err.type === 'nothing_to_rerun');
    const rerun = await client.batches.rerun(id, { status: ['cancelled'], model: 'gpt-4o-mini', mode: 'realtime' });
    assert.equal(rerun.rerun_of, id);
    assert.equal(rerun.model, 'gpt-4o-mini');
    assert.equal(rerun.counts.total, 5);
    const done = await client.batches.wait(rerun.id, { pollMs: 200 });
    assert.equal(done.status, 'completed');
    assert.equal(done.counts.succeeded, 5);
    assert.deepEqual((await client.batches.retrieve(id)).reruns, [rerun.id]);
  });

  test('bad bodies are 400s naming the field; another tenant gets a 404; the CLI reruns and prints the new batch', async () => {
    const old = await withFailures('cli', 4, 1);
    for (const body of [{ status: ['pending'] }, { status: [] }, { chunk_size: 0 }, { colour: 'red' }, { model: 'nope-9' }]) {
      const res = await stack.post(`/v1/batches/${old.id}/rerun`, body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.ok(res.body.error.issues.length > 0);
    }
    const other = stack.as((await stack.createKey({ tenant: 'rerun-other', scopes: ['batches:read', 'batches:write'] })).key);
    assert.equal((await other.post(`/v1/batches/${old.id}/rerun`, {})).status, 404);

    const run = await drover(stack.api.url, stack.adminKey, 'rerun', old.id, '--status', 'failed', '--json');
    assert.equal(run.code, 0, run.stderr);
    const printed = JSON.parse(run.stdout);
    assert.equal(printed.rerun_of, old.id);
    assert.equal(printed.counts.total, 1);
    const running = await drover(stack.api.url, stack.adminKey, 'rerun', 'batch_missing');
    assert.notEqual(running.code, 0);
    const help = await drover(stack.api.url, stack.adminKey, 'help');
    assert.match(help.stdout, /rerun\s+run an ended batch's failed items again/);
    await stack.waitForBatch(printed.id, 60_000);
  });
});
