import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { freePort, stopChild } from '../../stack/temporal-server.js';
import { useStack } from '../helpers/stack.js';

describe('files in', () => {
  const stack = useStack({ processingMs: 200, worker: true });

  test('a CSV upload becomes a batch: columns become item fields, quoted cells survive', async () => {
    const csv = [
      'id,content,tone,metadata.row',
      'a,"Hello, world",formal,1',
      'b,"He said ""hi""\nthen left",casual,2',
      'c,plain,formal,3',
      '',
    ].join('\r\n');
    const up = await stack.request('POST', '/v1/files?filename=tickets.csv', csv, { 'content-type': 'text/csv' });
    assert.equal(up.status, 201, up.text);
    assert.match(up.body.id, /^file_[0-9a-f]{32}$/);
    assert.deepEqual(
      [up.body.format, up.body.line_count, up.body.bytes, up.body.filename],
      ['csv', 3, Buffer.byteLength(csv), 'tickets.csv'],
    );
    assert.equal((await stack.get(`/v1/files/${up.body.id}`)).body.line_count, 3);

    const created = await stack.post('/v1/batches', {
      model: 'gpt-4.1-mini',
      input_file_id: up.body.id,
      user_prompt_template: 'Reply in a {tone} tone to: {content}',
    });
    assert.equal(created.status, 202, created.text);
    const done = await stack.waitForBatch(created.body.id);
    assert.equal(done.counts.succeeded, 3);
    const b = (await stack.get(`/v1/batches/${created.body.id}/items/b`)).body;
    assert.match(b.output, /casual tone to: He said "hi"\nthen left/);
    assert.deepEqual(b.metadata, { row: '2' });
  });

  test("problems in a file are reported by the file's own line numbers", async () => {
    const jsonl = '{"id":"a","content":"x"}\n\n{"id":"b"}\nnot json\n';
    const up = await stack.request('POST', '/v1/files?format=jsonl', jsonl, { 'content-type': 'application/octet-stream' });
    assert.equal(up.status, 201, up.text);
    const bad = await stack.post('/v1/batches', { model: 'gpt-4.1-mini', input_file_id: up.body.id });
    assert.equal(bad.status, 400);
    assert.deepEqual(
      bad.body.error.issues.map((i: any) => i.line),
      [3, 4],
    );
    const check = await stack.post('/v1/batches/validate', { model: 'gpt-4.1-mini', input_file_id: up.body.id });
    assert.equal(check.body.valid, false);
    assert.equal(check.body.issue_count, 2);
    assert.equal(
      (await stack.post('/v1/batches', { model: 'gpt-4.1-mini', input_file_id: 'file_nope' })).body.error.issues[0].path,
      'input_file_id',
    );
    const csvWithoutId = await stack.request('POST', '/v1/files', 'content\nx\n', { 'content-type': 'text/csv' });
    assert.equal(csvWithoutId.status, 400);
    assert.match(csvWithoutId.body.error.issues[0].message, /needs an "id" column/);
  });

  test('multipart uploads: the "file" field, its name and type decide the format; mistakes are 400s naming the field', async () => {
    const form = new FormData();
    form.append('file', new Blob(['id,content\r\nx1,"first, with a comma"\r\nx2,second\r\n'], { type: 'text/csv' }), 'leads.csv');
    const up = await fetch(stack.api.url + '/v1/files', { method: 'POST', headers: stack.auth, body: form });
    const file = (await up.json()) as any;
    assert.equal(up.status, 201, JSON.stringify(file));
    assert.deepEqual([file.filename, file.format, file.line_count], ['leads.csv', 'csv', 2]);
    const created = await stack.post('/v1/batches', { model: 'gpt-4.1-mini', input_file_id: file.id });
    assert.equal(created.status, 202, created.text);
    const done = await stack.waitForBatch(created.body.id);
    assert.equal(done.counts.succeeded, 2);
    assert.match((await stack.get(`/v1/batches/${created.body.id}/items/x1`)).body.output, /first, with a comma/);

    // A field before the file names the format when neither the type nor the name tells it.
    const named = new FormData();
    named.append('format', 'jsonl');
    named.append('filename', 'export-2026.txt');
    named.append('file', new Blob(['{"id":"a","content":"x"}\n{"id":"b","content":"y"}\n'], { type: 'application/octet-stream' }), 'blob');
    const up2 = await fetch(stack.api.url + '/v1/files', { method: 'POST', headers: stack.auth, body: named });
    const file2 = (await up2.json()) as any;
    assert.equal(up2.status, 201, JSON.stringify(file2));
    assert.deepEqual([file2.filename, file2.format, file2.line_count], ['export-2026.txt', 'jsonl', 2]);

    const wrongField = new FormData();
    wrongField.append('upload', new Blob(['{"id":"a"}\n']), 'a.jsonl');
    const r1 = await fetch(stack.api.url + '/v1/files', { method: 'POST', headers: stack.auth, body: wrongField });
    const e1 = (await r1.json()) as any;
    assert.equal(r1.status, 400);
    assert.deepEqual(
      [e1.error.issues[0].path, e1.error.issues[0].message],
      ['file', 'the file goes in the multipart field "file", not "upload"'],
    );

    const noFile = new FormData();
    noFile.append('format', 'csv');
    const r2 = await fetch(stack.api.url + '/v1/files', { method: 'POST', headers: stack.auth, body: noFile });
    assert.equal(r2.status, 400);
    assert.match(((await r2.json()) as any).error.issues[0].message, /no file/);

    const unknownFormat = new FormData();
    unknownFormat.append('file', new Blob(['a,b\n']), 'data.bin');
    const r3 = await fetch(stack.api.url + '/v1/files', { method: 'POST', headers: stack.auth, body: unknownFormat });
    assert.equal(r3.status, 400);
    assert.equal(((await r3.json()) as any).error.issues[0].path, 'format');

    const broken = await stack.request(
      'POST',
      '/v1/files',
      '--xyz\r\ncontent-disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n{"id":"a","content":"x"}\n',
      {
        'content-type': 'multipart/form-data; boundary=xyz',
      },
    );
    assert.equal(broken.status, 400, broken.text);
    assert.match(broken.body.error.issues[0].message, /malformed multipart body/);
  });

  test('a 100 MB upload streams, raw or multipart: an API process with a 128 MB heap takes both, peak RSS bounded', async () => {
    // A separate API process whose V8 heap cannot hold the file: it survives only if the upload
    // really streams. Its peak RSS (VmHWM) is printed.
    const port = await freePort();
    const api = spawn(process.execPath, ['--max-old-space-size=128', '--import', 'tsx', 'api/server.ts'], {
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: stack.database.url,
        TEMPORAL_ADDRESS: stack.temporal.address,
        PORT: String(port),
        LOG_LEVEL: 'info',
        DROVER_ADMIN_KEY: stack.adminKey,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    api.stderr!.on('data', (d) => (out += d));
    try {
      await new Promise<void>((resolve, reject) => {
        api.stdout!.on('data', (d) => (out += d) && out.includes('API listening') && resolve());
        api.once('exit', (code) => reject(new Error(`API exited ${code}`)));
      });
      const lines = 100_000;
      const pad = 'x'.repeat(1000);
      async function* jsonl() {
        for (let i = 0; i < lines; i += 1000) {
          let chunk = '';
          for (let j = i; j < i + 1000; j++) chunk += JSON.stringify({ id: `big${j}`, content: `${j} ${pad}` }) + '\n';
          yield Buffer.from(chunk);
        }
      }
      // The same bytes as a multipart form, produced as they are sent (FormData would buffer them).
      const boundary = 'drover-test-boundary-7d1f';
      async function* multipart() {
        yield Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="format"\r\n\r\njsonl\r\n`);
        yield Buffer.from(
          `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="big.jsonl"\r\ncontent-type: application/octet-stream\r\n\r\n`,
        );
        yield* jsonl();
        yield Buffer.from(`\r\n--${boundary}--\r\n`);
      }
      const send = async (body: () => AsyncGenerator<Buffer>, contentType: string, query: string) => {
        const t0 = Date.now();
        const res = await fetch(`http://127.0.0.1:${port}/v1/files${query}`, {
          method: 'POST',
          headers: { ...stack.auth, 'content-type': contentType },
          body: Readable.toWeb(Readable.from(body())) as ReadableStream,
          duplex: 'half',
        } as RequestInit).catch((err: Error) => {
          throw new Error(`upload failed (${err.message}); the API said:\n${out.slice(-2000)}`);
        });
        const file = (await res.json()) as { bytes: number; line_count: number; filename: string };
        assert.equal(res.status, 201, JSON.stringify(file));
        assert.equal(file.line_count, lines);
        assert.ok(file.bytes > 100 * 1e6, `${file.bytes} bytes`);
        return { file, seconds: (Date.now() - t0) / 1000 };
      };
      const raw = await send(jsonl, 'application/x-ndjson', '?format=jsonl');
      const form = await send(multipart, `multipart/form-data; boundary=${boundary}`, '');
      assert.equal(form.file.filename, 'big.jsonl');
      assert.equal(form.file.bytes, raw.file.bytes, 'the multipart upload stored the file bytes, not the form around them');
      const status = await readFile(`/proc/${api.pid}/status`, 'utf8');
      const peakMb = Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
      console.log(
        `100 MB uploads into an API with a 128 MB heap: raw body ${(raw.file.bytes / 1048576).toFixed(0)} MiB in ${raw.seconds.toFixed(1)} s, multipart in ${form.seconds.toFixed(1)} s; peak RSS over both ${peakMb.toFixed(0)} MiB`,
      );
      assert.ok(peakMb < 400, `peak RSS ${peakMb.toFixed(0)} MiB`);
    } finally {
      await stopChild(api);
    }
  });
});
