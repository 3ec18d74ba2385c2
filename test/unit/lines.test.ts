import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readLines } from '../../providers/lines.js';
import { mulberry32 } from '../../emulator/random.js';

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      controller.close();
    },
  });
}

/** Splits the UTF-8 bytes of `text` at the given byte offsets (which may fall inside a character). */
function splitAt(text: string, cuts: number[]): Uint8Array[] {
  const bytes = Buffer.from(text, 'utf8');
  const points = [0, ...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b), bytes.length];
  const out: Uint8Array[] = [];
  for (let i = 0; i + 1 < points.length; i++) out.push(new Uint8Array(bytes.subarray(points[i]!, points[i + 1]!)));
  return out;
}

async function collect(body: ReadableStream<Uint8Array> | null): Promise<string[]> {
  const out: string[] = [];
  for await (const line of readLines(body)) out.push(line);
  return out;
}

describe('readLines', () => {
  test('a null body yields nothing', async () => {
    assert.deepEqual(await collect(null), []);
  });

  test('an empty stream yields nothing', async () => {
    assert.deepEqual(await collect(streamOf([])), []);
  });

  test('one chunk, several lines with a trailing newline', async () => {
    assert.deepEqual(await collect(streamOf(splitAt('a\nb\nc\n', []))), ['a', 'b', 'c']);
  });

  test('the last line without a trailing newline is still yielded', async () => {
    assert.deepEqual(await collect(streamOf(splitAt('{"a":1}\n{"b":2}', []))), ['{"a":1}', '{"b":2}']);
  });

  test('CRLF line endings are stripped', async () => {
    assert.deepEqual(await collect(streamOf(splitAt('a\r\nb\r\nc\r\n', []))), ['a', 'b', 'c']);
  });

  test('CRLF split between \\r and \\n across chunks', async () => {
    assert.deepEqual(await collect(streamOf(splitAt('a\r\nb\r\n', [2]))), ['a', 'b']);
  });

  test('blank and whitespace-only lines are skipped; other whitespace is kept', async () => {
    assert.deepEqual(await collect(streamOf(splitAt('\n\na\n  \n\r\n\t\n b \n\n', []))), ['a', ' b ']);
  });

  test('a line split across many chunks is reassembled', async () => {
    const text = '{"custom_id":"1","text":"hello world"}\n';
    const cuts = Array.from({ length: text.length }, (_, i) => i);
    assert.deepEqual(await collect(streamOf(splitAt(text, cuts))), ['{"custom_id":"1","text":"hello world"}']);
  });

  test('multi-byte characters split inside their UTF-8 bytes decode intact', async () => {
    const text = 'é😀€\n日本\n';
    // 😀 starts at byte 2 and is 4 bytes: cut it after 1, 2 and 3 of them; € is cut after 1 byte.
    const chunks = splitAt(text, [1, 3, 4, 5, 7, 12, 13]);
    assert.deepEqual(await collect(streamOf(chunks)), ['é😀€', '日本']);
  });

  test('a multi-byte character split across the very last chunk without a trailing newline', async () => {
    const text = 'a\nzz😀';
    const bytes = Buffer.byteLength(text);
    assert.deepEqual(await collect(streamOf(splitAt(text, [bytes - 2]))), ['a', 'zz😀']);
  });

  test('property: arbitrary chunking gives the same lines as splitting the whole text (seeded)', async () => {
    const pieces = ['{"a":"é"}', '😀😀', 'plain', '日本語', '"quoted \\" x"', 'ü€𝄞'];
    for (let seed = 1; seed <= 200; seed++) {
      const rnd = mulberry32(seed);
      const n = 1 + Math.floor(rnd() * 12);
      const lines = Array.from({ length: n }, () => pieces[Math.floor(rnd() * pieces.length)]! + String(Math.floor(rnd() * 1000)));
      const eol = rnd() < 0.5 ? '\n' : '\r\n';
      const trailing = rnd() < 0.5 ? eol : '';
      const text = lines.join(eol) + trailing;
      const total = Buffer.byteLength(text);
      const cuts = Array.from({ length: Math.floor(rnd() * 20) }, () => Math.floor(rnd() * total));
      assert.deepEqual(await collect(streamOf(splitAt(text, cuts))), lines, `seed ${seed}`);
    }
  });

  test('the final line without a newline is CR-stripped like the others', async () => {
    assert.deepEqual(await collect(streamOf([new TextEncoder().encode('a\r\nb\r')])), ['a', 'b']);
  });
});
