import { isUtf8 } from 'node:buffer';

/** A byte stream that is not UTF-8: where, as the 1-based line and the 0-based byte offset of the first bad byte. */
export class InvalidUtf8Error extends Error {
  constructor(
    readonly line: number,
    readonly byte: number,
  ) {
    super(`not valid UTF-8 at byte ${byte} (line ${line})`);
  }
}

/** The offset of the first byte that breaks UTF-8 in `buf` (a sequence cut off at its end included), or -1. */
export function firstInvalidUtf8(buf: Uint8Array): number {
  let i = 0;
  while (i < buf.length) {
    const b = buf[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) [need, min] = [1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [need, min] = [2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [need, min] = [3, 0x10000];
    else return i;
    if (i + need >= buf.length) return i;
    let cp = b & (0xff >> (need + 2));
    for (let k = 1; k <= need; k++) {
      const c = buf[i + k]!;
      if ((c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return i;
    i += need + 1;
  }
  return -1;
}

/** How many bytes at the end of `buf` start a multi-byte sequence that is not complete yet (0 to 3). */
function incompleteTail(buf: Uint8Array): number {
  for (let k = 1; k <= 3 && k <= buf.length; k++) {
    const b = buf[buf.length - k]!;
    if ((b & 0xc0) === 0x80) continue;
    const len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return len > k ? k : 0;
  }
  return 0;
}

/** Line feeds in `buf` before byte `end`. */
export function countNewlines(buf: Uint8Array, end = buf.length): number {
  let n = 0;
  const b = Buffer.from(buf.buffer, buf.byteOffset, end);
  for (let at = b.indexOf(10); at !== -1; at = b.indexOf(10, at + 1)) n++;
  return n;
}

/**
 * Passes a byte stream through unchanged, refusing it at the first byte that is not UTF-8
 * (InvalidUtf8Error, with the line and byte), where a decoder would silently put U+FFFD in its
 * place. Chunks are checked natively; a sequence split across chunks is held back until whole.
 */
export async function* utf8Checked(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let carry: Uint8Array = new Uint8Array(0);
  let offset = 0;
  let lines = 0;
  for await (const chunk of chunks) {
    const data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    const tail = incompleteTail(data);
    const whole = data.subarray(0, data.length - tail);
    if (!isUtf8(whole)) {
      const bad = firstInvalidUtf8(whole);
      throw new InvalidUtf8Error(lines + countNewlines(whole, bad) + 1, offset + bad);
    }
    lines += countNewlines(whole);
    offset += whole.length;
    carry = Uint8Array.from(data.subarray(whole.length));
    yield chunk;
  }
  if (carry.length > 0) throw new InvalidUtf8Error(lines + 1, offset);
}
