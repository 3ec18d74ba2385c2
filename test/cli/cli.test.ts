import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { TERMINAL_BATCH_STATUSES } from '../../domain/responses.js';
import { useStack } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';

/**
 * `drover` as a user runs it: a child process against the real local stack (Temporal dev
 * server, PostgreSQL, the provider emulator, the API and a worker). Nothing of Drover is mocked.
 */

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

interface Running {
  stdout(): string;
  stderr(): string;
  kill(signal: NodeJS.Signals): void;
  done: Promise<Run>;
}

describe('drover CLI against the local stack', () => {
  const stack = useStack({ processingMs: 300, worker: true });
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  let classifyId = '';
  const file = (name: string) => join(tmp, name);

  function start(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Running {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
      cwd: REPO_ROOT,
      env: { ...env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<Run>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`drover ${args.join(' ')} still running after 60 s\nstdout: ${stdout}\nstderr: ${stderr}`));
      }, 60_000);
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
      });
    });
    return { stdout: () => stdout, stderr: () => stderr, kill: (s) => child.kill(s), done };
  }

  const drover = (...args: string[]) => start(args).done;

  const batchCount = async () => (await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM batches')).rows[0]!.n;
  const fileCount = async () => (await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM files')).rows[0]!.n;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'drover-cli-'));
    env = { PATH: process.env.PATH, DROVER_URL: stack.api.url, DROVER_API_KEY: stack.adminKey, DROVER_POLL_MS: '400', NO_COLOR: '1' };
    const lines = (n: number, prefix: string) =>
      Array.from({ length: n }, (_, i) =>
        JSON.stringify({ id: `${prefix}${i}`, content: `Review ${i}: the kettle boils fast, but the lid rattles.` }),
      ).join('\n') + '\n';
    await writeFile(file('reviews.jsonl'), lines(30, 'r'));
    await writeFile(file('long.jsonl'), lines(40, 'l'));
    await writeFile(file('detached.jsonl'), lines(40, 'd'));
    await writeFile(
      file('rows.csv'),
      'id,text,metadata.row\n' + Array.from({ length: 30 }, (_, i) => `c${i},"Row ${i}, with a comma",${i}`).join('\n') + '\n',
    );
    await writeFile(
      file('bad.jsonl'),
      '{"id":"a","content":"x"}\n{"id":"b","content":"y"}\n{"id":"a","content":"again"}\n{"id":"c","content":"z"}\n',
    );
  });

  after(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('submit of a JSONL classify batch waits and exits 0: --json prints the batch, otherwise progress on stderr', async () => {
    const classify = [
      'submit',
      file('reviews.jsonl'),
      '--model',
      'gpt-4.1-mini',
      '--operation',
      'classify',
      '--categories',
      'positive,negative,neutral',
    ];
    const [json, human] = await Promise.all([drover(...classify, '--json'), drover(...classify)]);

    assert.equal(json.code, 0, json.stderr);
    const batch = JSON.parse(json.stdout);
    assert.equal(batch.object, 'batch');
    assert.equal(batch.status, 'completed');
    assert.deepEqual(batch.counts, { total: 30, succeeded: 30, failed: 0, cancelled: 0, pending: 0 });
    assert.ok(batch.cost.spent_usd > 0, JSON.stringify(batch.cost));
    assert.equal(json.stderr, '', '--json: nothing but the document');
    classifyId = batch.id;

    assert.equal(human.code, 0, human.stderr);
    const progress = human.stderr.split('\n').filter((l) => l.startsWith('progress: '));
    assert.ok(progress.length >= 1 && progress.length <= 6, `a few progress lines, not a flood:\n${human.stderr}`);
    assert.match(progress.at(-1)!, /^progress: completed {2}30\/30 \(100%\) {2}succeeded 30 {2}failed 0 {2}cost \$[\d.]+ {2}done in \d+s$/);
    assert.match(human.stderr, /uploaded 30 lines as file_\w+/);
    const id = /batch (batch_\w+) started/.exec(human.stderr)?.[1];
    assert.ok(id && id !== classifyId, human.stderr);
    assert.match(human.stdout, new RegExp(`^${id} completed in \\d+s, 30/30 succeeded, cost \\$[\\d.]+\\n`));
    assert.ok(human.stdout.includes(`drover results ${id} --out results.csv`), human.stdout);
  });

  test('a CSV file: columns become inputs of the prompt template, metadata.* columns metadata', async () => {
    const r = await drover('submit', file('rows.csv'), '--model', 'gpt-4.1-mini', '--prompt', 'Classify this: {text}', '--json');
    assert.equal(r.code, 0, r.stderr);
    const batch = JSON.parse(r.stdout);
    assert.equal(batch.status, 'completed');
    assert.equal(batch.counts.succeeded, 30);
    const item = await stack.get(`/v1/batches/${batch.id}/items/c7`);
    assert.equal(item.status, 200);
    assert.match(String(item.body.output), /Classify this: Row 7, with a comma/);
    assert.deepEqual(item.body.metadata, { row: '7' });
  });

  test('results: CSV with one row per item and flattened output columns; JSONL on stdout', async () => {
    assert.ok(classifyId, 'the classify batch ran');
    const out = file('results.csv');
    const r = await drover('results', classifyId, '--format', 'csv', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    const rows = (await readFile(out, 'utf8')).trimEnd().split('\r\n');
    assert.equal(rows.length, 31, 'a header and 30 rows');
    const header = rows[0]!.split(',');
    assert.deepEqual(header.slice(0, 4), ['id', 'status', 'output.label', 'output.confidence']);
    const ids = rows.slice(1).map((l) => l.split(',')[0]);
    assert.deepEqual(new Set(ids), new Set(Array.from({ length: 30 }, (_, i) => `r${i}`)));
    for (const line of rows.slice(1)) assert.match(line, /^r\d+,succeeded,(positive|negative|neutral),[\d.]+,/);

    const stdout = await drover('results', classifyId, '--status', 'succeeded');
    assert.equal(stdout.code, 0, stdout.stderr);
    const parsed = stdout.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(parsed.length, 30);
    assert.ok(parsed.every((row) => ['positive', 'negative', 'neutral'].includes(row.output.label)));
  });

  test('a batch that ends with failed items exits 5 and points at them', async () => {
    // Every 10th line of a provider batch fails, and with one attempt it stays failed.
    stack.emulator.setFaults({ line_errors: { every: 10, once: false, status: 500 } });
    try {
      const r = await drover(
        'submit',
        file('reviews.jsonl'),
        '--model',
        'gpt-4.1-mini',
        '--mode',
        'batch',
        '--max-attempts',
        '1',
        '--quiet',
      );
      assert.equal(r.code, 5, r.stdout + r.stderr);
      assert.equal(r.stderr, '', '--quiet: no progress');
      assert.match(r.stdout, /^batch_\w+ completed_with_failures in \d+s, 27\/30 succeeded, 3 failed, cost \$[\d.]+\n$/);
      const id = r.stdout.split(' ')[0]!;
      const failed = await drover('results', id, '--status', 'failed', '--json');
      assert.equal(failed.code, 0, failed.stderr);
      assert.deepEqual(
        JSON.parse(failed.stdout)
          .map((row: { id: string }) => row.id)
          .sort(),
        ['r19', 'r29', 'r9'],
      );
    } finally {
      stack.emulator.setFaults({});
    }
  });

  test('validate: every problem with its line, exit 3; a good file is valid, exit 0; no upload is left behind', async () => {
    const filesBefore = await fileCount();
    const bad = await drover('validate', file('bad.jsonl'), '--model', 'gpt-4.1-mini');
    assert.equal(bad.code, 3, bad.stdout + bad.stderr);
    assert.match(bad.stdout, /^line 3: id: duplicate id "a" \(first at line 1\)$/m);
    assert.match(bad.stdout, /^checked 4 lines: 3 valid, 1 with errors$/m);
    assert.doesNotMatch(bad.stderr, /uploaded/);

    const good = await drover('validate', file('rows.csv'), '--model', 'gpt-4.1-mini', '--prompt', 'Tag: {text}');
    assert.equal(good.code, 0, good.stderr);
    assert.equal(good.stdout, 'checked 30 lines: 30 valid, 1 chunk planned\n');

    const typo = await drover('validate', file('rows.csv'), '--model', 'gpt-4.1-minii', '--prompt', 'Tag: {text}');
    assert.equal(typo.code, 3, typo.stdout + typo.stderr);
    assert.match(typo.stdout, /^model: unknown model 'gpt-4.1-minii' for openai; did you mean gpt-4.1-mini\?$/m);
    assert.match(typo.stdout, /the request has 1 problem \(flags or --spec\), so the 30 lines were not checked yet/);
    assert.equal(await fileCount(), filesBefore, 'validate deletes its temporary upload');
  });

  test('estimate prints the cost and starts no batch', async () => {
    const before = await batchCount();
    const filesBefore = await fileCount();
    const r = await drover('estimate', file('reviews.jsonl'), '--model', 'gpt-4.1-mini', '--operation', 'summarize', '--max-words', '20');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /items +30 in 1 chunk/);
    assert.match(r.stdout, /cost +\$[\d.]+ low, \$[\d.]+ expected, \$[\d.]+ high/);
    const json = await drover('estimate', file('reviews.jsonl'), '--model', 'gpt-4.1-mini', '--json');
    const e = JSON.parse(json.stdout);
    assert.equal(e.object, 'batch_estimate');
    assert.equal(await fileCount(), filesBefore, 'estimate deletes its temporary upload');
    assert.equal(e.item_count, 30);
    assert.ok(e.cost.expected_usd > 0);
    assert.equal(await batchCount(), before, 'no batch was created');
  });

  test('exit codes: unknown batch 4, cancel of an ended batch 7, usage errors 2 naming the flag, API down 1', async () => {
    const [missing, ended, badFlag, unknownFlag, noModel, down] = await Promise.all([
      drover('status', 'batch_doesnotexist'),
      drover('cancel', classifyId),
      drover('submit', file('reviews.jsonl'), '--model', 'gpt-4.1-mini', '--max-cost', 'plenty'),
      drover('status', classifyId, '--frobnicate'),
      drover('submit', file('reviews.jsonl')),
      start(['status', 'batch_x'], { DROVER_URL: 'http://127.0.0.1:9' }).done,
    ]);
    assert.equal(missing.code, 4, missing.stderr);
    assert.match(missing.stderr, /^drover: error: batch batch_doesnotexist not found$/m);
    assert.equal(ended.code, 7, ended.stderr);
    assert.match(ended.stderr, /has ended \(completed\)/);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /^drover: error: --max-cost "plenty" is not an amount/);
    assert.equal(unknownFlag.code, 2);
    assert.match(unknownFlag.stderr, /unknown flag --frobnicate/);
    assert.equal(noModel.code, 2);
    assert.match(noModel.stderr, /--model is required/);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /the API is not reachable at http:\/\/127\.0\.0\.1:9\. Start a local stack with `drover dev`/);
    for (const r of [missing, ended, badFlag, down]) assert.ok(!/\n\s+at /.test(r.stderr), `no stack trace:\n${r.stderr}`);

    const json = await drover('status', 'batch_doesnotexist', '--json');
    assert.equal(json.code, 4);
    assert.equal(JSON.parse(json.stdout).error.type, 'not_found');

    const bin = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(join(REPO_ROOT, 'bin/drover.js'), ['--version'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.once('close', (code) => resolve({ code, out }));
    });
    assert.equal(bin.code, 0);
    assert.match(bin.out, /^\d+\.\d+\.\d+\n$/);
  });

  test("keys create|list|revoke; the key is found in a local dev stack's data dir; no key or a revoked one exits 1 saying so", async () => {
    const created = await drover(
      'keys',
      'create',
      '--tenant',
      'cli-team',
      '--name',
      'from the CLI',
      '--scope',
      'batches:read,batches:write',
    );
    assert.equal(created.code, 0, created.stderr);
    const key = created.stdout.trim();
    assert.match(key, /^drv_[A-Za-z0-9_-]{43}$/, 'stdout holds the key alone');
    assert.match(created.stderr, /key_[0-9a-f]{16} \(tenant cli-team, batches:read, batches:write\): the key above is shown this once/);

    const listed = await drover('keys', 'list', '--tenant', 'cli-team', '--json');
    assert.equal(listed.code, 0, listed.stderr);
    const rows = JSON.parse(listed.stdout).data;
    assert.deepEqual(
      rows.map((k: { tenant: string; name: string; scopes: string[] }) => [k.tenant, k.name, k.scopes]),
      [['cli-team', 'from the CLI', ['batches:read', 'batches:write']]],
    );
    assert.ok(!listed.stdout.includes(key));
    const human = await drover('keys', 'list', '--tenant', 'cli-team');
    assert.match(
      human.stdout,
      new RegExp(`^${rows[0].id}  cli-team  batches:read,batches:write  "from the CLI"  created \\S+  last used never\n$`),
    );

    // The new key works, and sees only its tenant: no batch of default's.
    const own = await start(['list', '--json'], { DROVER_API_KEY: key }).done;
    assert.equal(own.code, 0, own.stderr);
    assert.deepEqual(JSON.parse(own.stdout).data, []);
    const foreign = await start(['status', classifyId], { DROVER_API_KEY: key }).done;
    assert.equal(foreign.code, 4, 'another tenant’s batch is not found');
    const denied = await start(['keys', 'list'], { DROVER_API_KEY: key }).done;
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /^drover: error: this API key lacks the scope admin \(HTTP 403; check --api-key or DROVER_API_KEY\)$/m);

    const revoked = await drover('keys', 'revoke', rows[0].id);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`^${rows[0].id}  revoked `));
    await new Promise((r) => setTimeout(r, 600)); // the API's key cache lives 500 ms
    const after = await start(['list'], { DROVER_API_KEY: key }).done;
    assert.equal(after.code, 1);
    assert.match(after.stderr, /the API key is not valid \(unknown or revoked\) \(HTTP 401/);
    assert.equal((await drover('keys', 'revoke', 'key_ffffffffffffffff')).code, 4);
    const usage = await drover('keys', 'create', '--tenant', 'x', '--name', 'y', '--scope', 'root');
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--scope "root" is not one of batches:read, batches:write, admin/);

    // No DROVER_API_KEY: on this machine the dev stack's key file is used; elsewhere, nothing is sent.
    const dataDir = await mkdtemp(join(tmpdir(), 'drover-data-'));
    try {
      const noKey = { DROVER_API_KEY: '', DROVER_DATA_DIR: dataDir };
      const missing = await start(['list'], noKey).done;
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /an API key is required: send Authorization: Bearer <key> \(HTTP 401/);
      await writeFile(join(dataDir, 'admin-key'), `${stack.adminKey}\n`, { mode: 0o600 });
      const found = await start(['list', '--json'], noKey).done;
      assert.equal(found.code, 0, found.stderr);
      assert.ok(JSON.parse(found.stdout).data.some((b: { id: string }) => b.id === classifyId));
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('a running batch: Ctrl-C stops watching (130) and not the batch; limits, pause, resume, cancel; --detach', async () => {
    // Provider batches take 20 s from here on: long enough to steer them.
    stack.emulator.setFaults({ processing_ms: 20_000 });
    try {
      const watching = start([
        'submit',
        file('long.jsonl'),
        '--model',
        'gpt-4.1-mini',
        '--mode',
        'batch',
        '--chunk-size',
        '10',
        '--max-parallel-chunks',
        '1',
      ]);
      await until(() => watching.stderr().includes('progress: '), Boolean, { what: 'the first progress line', timeoutMs: 30_000 });
      watching.kill('SIGINT');
      const interrupted = await watching.done;
      assert.equal(interrupted.code, 130, interrupted.stderr);
      const id = /batch (batch_\w+) started/.exec(interrupted.stderr)?.[1];
      assert.ok(id, interrupted.stderr);
      assert.ok(interrupted.stderr.includes(`drover status ${id} --watch`), interrupted.stderr);
      const still = await stack.get(`/v1/batches/${id}`);
      assert.ok(
        !TERMINAL_BATCH_STATUSES.includes(still.body.status) && still.body.status !== 'cancelling',
        `still running: ${still.body.status}`,
      );

      const detached = await drover('submit', file('detached.jsonl'), '--model', 'gpt-4.1-mini', '--mode', 'batch', '--detach');
      assert.equal(detached.code, 0, detached.stderr);
      assert.match(detached.stdout, /^batch_\w+\n$/);
      const detachedId = detached.stdout.trim();
      assert.ok(
        !TERMINAL_BATCH_STATUSES.includes((await stack.get(`/v1/batches/${detachedId}`)).body.status),
        'returned before the batch ended',
      );

      const limited = await drover('limits', id, '--max-cost', '25', '--json');
      assert.equal(limited.code, 0, limited.stderr);
      assert.equal(JSON.parse(limited.stdout).cost.limit_usd, 25);
      assert.equal((await stack.get(`/v1/batches/${id}`)).body.cost.limit_usd, 25);
      const human = await drover('limits', id, '--max-cost', 'none', '--time-limit', '2h');
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, /limit +none/);
      const deadline = (await stack.get(`/v1/batches/${id}`)).body.deadline;
      assert.ok(deadline && Date.parse(deadline) > Date.now() + 7_000_000, String(deadline));

      const paused = await drover('pause', id, '--json');
      assert.equal(paused.code, 0, paused.stderr);
      assert.equal(JSON.parse(paused.stdout).status, 'paused');
      const resumed = await drover('resume', id);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.match(resumed.stdout, new RegExp(`^${id} {2}(running|queued)\\n`));

      const [cancelled, cancelledDetached] = await Promise.all([drover('cancel', id), drover('cancel', detachedId, '--quiet')]);
      assert.equal(cancelled.code, 0, cancelled.stderr);
      assert.match(cancelled.stdout, /(cancelling|cancelled)/);
      assert.equal(cancelledDetached.code, 0, cancelledDetached.stderr);
      const watched = await drover('status', id, '--watch');
      assert.equal(watched.code, 6, 'a cancelled batch ends the watch with exit 6');
      assert.match(watched.stdout, /cancelled/);
      const late = await drover('pause', id);
      assert.equal(late.code, 7, late.stderr);
    } finally {
      stack.emulator.setFaults({});
    }
  });
});
