import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { useStack } from './helpers/stack.js';

/**
 * The README's examples, run against the real stack so they cannot drift from the code: every
 * shell command (curl and drover), the JSON bodies (sent) and answers (their fields checked
 * against real answers), the CSV header it shows (against a real export) and the client code.
 * A block that cannot run here says so just before it: `<!-- readme-test: skip (why) -->`.
 */

const REPO = fileURLToPath(new URL('..', import.meta.url));

interface Block {
  lang: string;
  code: string;
  line: number;
  /** The `<!-- readme-test: … -->` right before the block, if any. */
  marker: string | undefined;
}

function blocksOf(readme: string): Block[] {
  const lines = readme.split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    let j = start - 1;
    while (j >= 0 && lines[j]!.trim() === '') j--;
    const marker = /^<!-- readme-test: (.+) -->$/.exec(lines[j] ?? '')?.[1];
    out.push({ lang: open[1]!, code: body.join('\n'), line: start + 1, marker });
  }
  return out;
}

/** Shell lines the test stands in for: they install, start or test a stack themselves (the drover shim is the link). */
const SETUP = /^(npm (ci|run dev|test|link|install -g)|drover dev)\b/;

/** `…` elisions made parseable: `{…}` is an empty object, `, …]` ends a list, a bare `…` is null. */
function parseElided(text: string): unknown {
  return JSON.parse(
    text
      .replace(/\{…\}/g, '{}')
      .replace(/,\s*…\s*\]/g, ']')
      .replace(/:\s*…/g, ': null'),
  );
}

/** Fields whose content is the user's (an output, metadata) or varies by model: only their presence is checked. */
const OPAQUE = new Set(['output', 'metadata', 'pricing']);

/** The keys of `example` that `real` lacks, recursively (`cost.limit_usd`); lists compare their first elements. */
function missingKeys(example: unknown, real: unknown, at = ''): string[] {
  if (Array.isArray(example) && Array.isArray(real))
    return example.length && real.length ? missingKeys(example[0], real[0], `${at}[0]`) : [];
  if (typeof example !== 'object' || example === null || typeof real !== 'object' || real === null) return [];
  return Object.entries(example).flatMap(([k, v]) => {
    const path = at ? `${at}.${k}` : k;
    if (!(k in real)) return [path];
    return OPAQUE.has(k) ? [] : missingKeys(v, (real as Record<string, unknown>)[k], path);
  });
}

function run(command: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

describe('README examples', () => {
  const stack = useStack({ processingMs: 60_000, worker: true });
  let readme: string;
  let blocks: Block[];
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const ids: Record<string, string> = {};
  const counts = { run: 0, skipped: 0 };

  before(async () => {
    readme = await readFile(join(REPO, 'README.md'), 'utf8');
    blocks = blocksOf(readme);
    dir = await mkdtemp(join(tmpdir(), 'drover-readme-'));
    await mkdir(join(dir, 'bin'));
    await mkdir(join(dir, '.data'));
    await writeFile(join(dir, '.data', 'admin-key'), stack.adminKey, { mode: 0o600 });
    await writeFile(
      join(dir, 'bin', 'drover'),
      `#!/bin/sh\nexec "${process.execPath}" --import "${import.meta.resolve('tsx')}" "${join(REPO, 'cli', 'main.ts')}" "$@"\n`,
    );
    await chmod(join(dir, 'bin', 'drover'), 0o755);
    // The files the examples name.
    await writeFile(join(dir, 'tickets.csv'), 'id,content,tone\nt1,I was charged twice,formal\nt2,Where is my parcel?,casual\n');
    await writeFile(join(dir, 'items.jsonl'), '{"id":"a","content":"Loved it"}\n{"id":"b","content":"Broke in a day"}\n');
    await writeFile(
      join(dir, 'fields.json'),
      JSON.stringify([
        { name: 'urgency', type: 'categorical', valid_values: ['low', 'high'] },
        { name: 'product', type: 'string' },
      ]),
    );
    await writeFile(
      join(dir, 'same-request.json'),
      JSON.stringify({
        model: 'gpt-4.1-mini',
        operation: 'classify',
        categories: ['positive', 'negative'],
        items: [{ id: 'r1', content: 'Loved it' }],
      }),
    );
    env = {
      ...process.env,
      PATH: `${join(dir, 'bin')}:${process.env.PATH}`,
      DROVER_URL: stack.api.url,
      DROVER_API_KEY: stack.adminKey,
      DROVER_DATA_DIR: join(dir, '.data'),
      DROVER_POLL_MS: '250',
    };

    // What the examples' placeholders stand for: the Run it batch (ended), one still running, a file and a key.
    const classify = {
      model: 'gpt-4.1-mini',
      operation: 'classify',
      categories: ['positive', 'negative'],
      items: [
        { id: 'r1', content: 'Loved it' },
        { id: 'r2', content: 'Broke in a day' },
      ],
    };
    ids.batch = (await stack.post('/v1/batches', classify)).body.id;
    await stack.waitForBatch(ids.batch!);
    const running = await stack.post('/v1/batches', { ...classify, mode: 'batch' });
    assert.equal(running.status, 202, running.text);
    ids.running = running.body.id;
    ids.file = (
      await stack.request('POST', '/v1/files?filename=tickets.csv', await readFile(join(dir, 'tickets.csv'), 'utf8'), {
        'content-type': 'text/csv',
      })
    ).body.id;
    ids.key = (await stack.createKey({ tenant: 'acme', scopes: ['batches:read'] })).id;
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    console.log(`README examples: ${counts.run} run, ${counts.skipped} marked as not runnable here`);
  });

  /** The README's text for this stack: its address, the CLI as installed here, real ids for the placeholders. */
  function localize(line: string): string {
    const host = stack.api.url.replace(/^http:\/\//, '');
    const batch = /drover (limits|pause|resume|cancel)\b/.test(line) ? ids.running! : ids.batch!;
    return line
      .replaceAll('http://127.0.0.1:3000', stack.api.url)
      .replaceAll('localhost:3000', host)
      .replaceAll('npx drover', 'drover')
      .replaceAll('batch_…', batch)
      .replaceAll('<id>', ids.batch!)
      .replaceAll('file_…', ids.file!)
      .replaceAll('key_…', ids.key!);
  }

  test('every shell example runs: curl answers below 400, drover exits 0', async () => {
    let ran = 0;
    for (const block of blocks.filter((b) => b.lang === 'sh')) {
      if (block.marker?.startsWith('skip')) {
        counts.skipped++;
        continue;
      }
      const commands = block.code
        .replace(/\\\n\s*/g, ' ')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'));
      const runnable = commands.filter((c) => !SETUP.test(c));
      counts.skipped += commands.length - runnable.length;
      if (runnable.length === 0) continue;
      // Each curl prints its status last; any at or above 400 fails the example.
      const script = ['set -e', `curl() { command curl -sS -w '\\n@status %{http_code}\\n' "$@"; }`, ...runnable.map(localize)].join('\n');
      const t0 = Date.now();
      const r = await run('bash', ['-c', script], { cwd: dir, env });
      if (process.env.README_TEST_TIMES) console.log(`README line ${block.line}: ${Date.now() - t0} ms`);
      assert.equal(r.code, 0, `README line ${block.line}:\n${script}\n---\n${r.out}`);
      const bad = [...r.out.matchAll(/^@status (\d+)$/gm)].map((m) => Number(m[1])).filter((s) => s >= 400 || s === 0);
      assert.deepEqual(bad, [], `README line ${block.line}: a request failed\n${script}\n---\n${r.out}`);
      ran += runnable.length;
    }
    counts.run += ran;
    assert.ok(ran >= 20, `${ran} commands run`);
  });

  test('the CSV header the README shows is the one the Run it batch exports', async () => {
    const shown = /`(id,status,output[^`]*)`/.exec(readme)?.[1];
    assert.ok(shown, 'the README shows a CSV header');
    const out = join(dir, 'header-check.csv');
    const r = await run('drover', ['results', ids.batch!, '--out', out], { cwd: dir, env });
    assert.equal(r.code, 0, r.out);
    const header = (await readFile(out, 'utf8')).split(/\r?\n/)[0] ?? '';
    assert.equal(header, shown);
    assert.match(shown, /output\.label,output\.confidence/);
    counts.run++;
  });

  test('every JSON example is sent, or its fields are found in a real answer', async () => {
    const real: Record<string, () => Promise<unknown>> = {
      batch: async () => (await stack.get(`/v1/batches/${ids.batch}`)).body,
      estimate: async () => (await stack.post('/v1/batches/estimate', { model: 'gpt-4.1-mini', items: [{ id: 'a', content: 'x' }] })).body,
      result: async () => (await stack.get(`/v1/batches/${ids.batch}/results?format=json`)).body.data[0],
      error: async () =>
        (
          await stack.request('POST', '/v1/batches?model=gpt-4.1-mini', '{"id":"a","content":"x"}\n{"id":"a"', {
            'content-type': 'application/x-ndjson',
          })
        ).body,
    };
    for (const block of blocks.filter((b) => b.lang === 'json')) {
      assert.ok(block.marker, `README line ${block.line}: a JSON example needs a <!-- readme-test: … --> marker`);
      if (block.marker.startsWith('skip')) {
        counts.skipped++;
        continue;
      }
      const example = parseElided(block.code);
      const request = /^request POST (\S+)$/.exec(block.marker);
      if (request) {
        const r = await stack.post(request[1]!, example);
        assert.ok(r.status < 300, `README line ${block.line}: ${r.status} ${r.text}`);
      } else {
        const shape = /^shape (\w+)$/.exec(block.marker)?.[1];
        assert.ok(shape && real[shape], `README line ${block.line}: unknown marker ${block.marker}`);
        assert.deepEqual(missingKeys(example, await real[shape]()), [], `README line ${block.line}: fields no real answer has`);
      }
      counts.run++;
    }
  });

  test('an example in any other language is marked, so none goes unchecked by accident', () => {
    const others = blocks.filter((b) => b.lang !== '' && !['sh', 'json', 'ts'].includes(b.lang));
    for (const block of others) {
      assert.match(block.marker ?? '', /^skip \(.+\)$/, `README line ${block.line}: a ${block.lang} example needs a readme-test marker`);
      counts.skipped++;
    }
  });

  test('the client example runs as written', async () => {
    const snippets = blocks.filter((b) => b.lang === 'ts');
    assert.ok(snippets.length > 0);
    for (const block of snippets) {
      if (block.marker?.startsWith('skip')) {
        counts.skipped++;
        continue;
      }
      // It names `items` it does not define: two tickets, as the marker says.
      const code = [
        `const items = [{ id: 't1', content: 'I was charged twice' }, { id: 't2', content: 'Where is my parcel?' }];`,
        block.code.replaceAll("'./client/index.js'", "'../client/index.js'").replaceAll('http://127.0.0.1:3000', stack.api.url),
      ].join('\n');
      const where = await mkdtemp(join(REPO, '.readme-test-'));
      try {
        await writeFile(join(where, 'snippet.ts'), `${code}\nexport {};\n`);
        const r = await run(process.execPath, ['--import', 'tsx', join(where, 'snippet.ts')], { cwd: REPO, env });
        assert.equal(r.code, 0, `README line ${block.line}:\n${code}\n---\n${r.out}`);
        assert.match(r.out, /^t1 \{ topic: '(billing|shipping|other)', urgent: (true|false) \}$/m);
      } finally {
        await rm(where, { recursive: true, force: true });
      }
      counts.run++;
    }
  });
});
