import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { filenameProblem } from '../../api/intake/read-upload.js';
import { RequestHasher } from '../../api/intake/request-hash.js';
import { inertCell } from '../../api/views.js';
import { BatchSettings } from '../../domain/batch-spec.js';
import { csvRecords, CsvSyntaxError } from '../../domain/csv-records.js';
import { inspectJson } from '../../domain/json-inspect.js';
import { contextWindowOf } from '../../domain/model-context.js';
import { firstInvalidUtf8, InvalidUtf8Error, utf8Checked } from '../../domain/utf8.js';
import { openSecret, sealSecret, SecretKeyMismatchError } from '../../store/secret-box.js';

async function* chunks(parts: Array<number[] | string>): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield typeof p === 'string' ? Buffer.from(p) : Uint8Array.from(p);
}

async function drain(parts: Array<number[] | string>): Promise<number | InvalidUtf8Error> {
  let n = 0;
  try {
    for await (const c of utf8Checked(chunks(parts))) n += c.length;
    return n;
  } catch (err) {
    if (err instanceof InvalidUtf8Error) return err;
    throw err;
  }
}

async function records(text: string[]): Promise<Array<{ line: number; fields: string[] }>> {
  const out = [];
  for await (const r of csvRecords(texts(text))) out.push(r);
  return out;
}

async function* texts(parts: string[]): AsyncGenerator<string> {
  yield* parts;
}

describe('UTF-8 at the edge', () => {
  test('firstInvalidUtf8 finds the first bad byte: stray, truncated, overlong, surrogate, past U+10FFFF', () => {
    const at = (b: number[]) => firstInvalidUtf8(Uint8Array.from(b));
    assert.equal(at([0x61, 0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80]), -1);
    assert.equal(at([0x61, 0xff]), 1);
    assert.equal(at([0x61, 0x62, 0xe2, 0x82]), 2);
    assert.equal(at([0xc0, 0x80]), 0);
    assert.equal(at([0xe0, 0x80, 0x80]), 0);
    assert.equal(at([0xed, 0xa0, 0x80]), 0);
    assert.equal(at([0xf4, 0x90, 0x80, 0x80]), 0);
  });

  test('utf8Checked passes a sequence split across chunks and names the line and byte of a bad one', async () => {
    assert.equal(await drain(['a', [0xe2], [0x82, 0xac], '\nb']), 6);
    const bad = await drain(['line 1\nline 2\n', 'li', [0xc3, 0x28], '\n']);
    assert.ok(bad instanceof InvalidUtf8Error);
    assert.deepEqual([bad.line, bad.byte], [3, 16]);
    const cut = await drain(['abc', [0xe2, 0x82]]);
    assert.ok(cut instanceof InvalidUtf8Error);
    assert.equal(cut.byte, 3);
  });
});

describe('JSON that cannot be stored or walked', () => {
  test('inspectJson names a NUL in a value or a key, and nesting past the limit, without recursing', () => {
    assert.equal(inspectJson({ a: [1, { b: 'ok' }] }), null);
    assert.deepEqual(inspectJson({ items: [{ id: 'x\u0000' }] }), { kind: 'nul', path: 'items[0].id' });
    assert.deepEqual(inspectJson({ m: { 'k\u0000': 1 } }), { kind: 'nul', path: 'm.k\\u0000' });
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const problem = inspectJson({ deep }, 64);
    assert.equal(problem?.kind, 'depth');
    assert.equal(inspectJson(deep, 100_001), null, 'walked iteratively: 100,000 levels do not overflow');
  });
});

describe('CSV read strictly', () => {
  test('a quote never closed is an error naming the line it opened on', async () => {
    await assert.rejects(records(['id,content\n1,a\n2,"b\n3,c\n']), (err) => err instanceof CsvSyntaxError && err.line === 3);
  });

  test('a quote inside an unquoted field is an ordinary character; quoted fields keep commas, quotes and line breaks', async () => {
    const out = [];
    for await (const r of csvRecords(texts(['id,content\n1,5" screen\n2,"a, ""b""\nc"\n3,x\n']))) out.push(r);
    assert.deepEqual(out, [
      { line: 1, fields: ['id', 'content'] },
      { line: 2, fields: ['1', '5" screen'] },
      { line: 3, fields: ['2', 'a, "b"\nc'] },
      { line: 5, fields: ['3', 'x'] },
    ]);
  });
});

describe('sealed secrets', () => {
  const key = { bytes: randomBytes(32), id: 'aaaaaaaa' };

  test('a sealed secret opens with its key, and is not readable in the stored form', () => {
    const sealed = sealSecret('whsec_0123456789', key);
    assert.match(sealed, /^sealed:v1:aaaaaaaa:/);
    assert.ok(!sealed.includes('0123456789'));
    assert.equal(openSecret(sealed, key), 'whsec_0123456789');
    assert.notEqual(sealSecret('whsec_0123456789', key), sealed, 'a fresh IV each time');
  });

  test('another key is refused with a message naming the setting; a tampered value fails; a plain legacy value reads as it is', () => {
    const sealed = sealSecret('whsec_x', key);
    assert.throws(() => openSecret(sealed, { bytes: randomBytes(32), id: 'bbbbbbbb' }), SecretKeyMismatchError);
    const tampered = sealed.slice(0, -2) + (sealed.endsWith('AA') ? 'BB' : 'AA');
    assert.throws(() => openSecret(tampered, key));
    assert.equal(openSecret('whsec_legacy', key), 'whsec_legacy');
  });
});

describe('small edge rules', () => {
  test('CSV cells that a spreadsheet would run get a leading quote', () => {
    for (const s of ['=1+1', '+1', '-1', '@SUM(A1)', '\tx', '\rx']) assert.equal(inertCell(s), `'${s}`);
    for (const s of ['plain', '1', '{"a":1}', ' =x']) assert.equal(inertCell(s), s);
  });

  test('file names are labels, not paths', () => {
    for (const bad of ['../../etc/passwd', 'a/b.csv', '..\\x.csv', '..', 'a\u0000.csv', 'a\nb.csv', 'x'.repeat(256)])
      assert.ok(filenameProblem(bad), bad);
    for (const good of ['tickets.csv', 'März 2026.jsonl', '..hidden.csv']) assert.equal(filenameProblem(good), null, good);
  });

  test('the request hash ignores key order, defaults written out, the idempotency key and dry_run; not the items', () => {
    const hash = (settings: unknown, items: unknown[]) => {
      const h = new RequestHasher(BatchSettings.parse(settings));
      for (const i of items) h.item(i);
      return h.digest();
    };
    const items = [{ id: 'a', content: 'x', metadata: { b: 1, a: 2 } }];
    const base = hash({ model: 'gpt-4.1-mini', idempotency_key: 'k' }, items);
    assert.equal(
      hash({ max_attempts: 3, idempotency_key: 'other', model: 'gpt-4.1-mini' }, [{ metadata: { a: 2, b: 1 }, content: 'x', id: 'a' }]),
      base,
    );
    assert.notEqual(hash({ model: 'gpt-4.1-mini' }, [{ id: 'a', content: 'y' }]), base);
    assert.notEqual(hash({ model: 'gpt-4.1-mini', max_cost_usd: 1 }, items), base);
  });

  test('context windows: from the price data, else the provider default', () => {
    assert.deepEqual(contextWindowOf('openai', 'gpt-4o-mini'), { tokens: 128_000, source: 'price-data' });
    assert.deepEqual(contextWindowOf('anthropic', 'my-private-claude'), { tokens: 200_000, source: 'provider-default' });
    assert.equal(contextWindowOf('openai_compatible', 'llama-3-70b-local').source, 'provider-default');
  });
});
