import { setImmediate as nextTurn } from 'node:timers/promises';

/** Bytes and items encoded between two turns of the event loop: a few milliseconds of JSON.stringify. */
const SLICE_BYTES = 1 << 20;
const SLICE_ITEMS = 2000;

/**
 * Encodes `items` one by one (`open`, the encodings joined by `separator`, then `close`) and
 * yields the text a slice of about a megabyte at a time, giving the event loop a turn between
 * slices. A 200 MB chunk then never blocks heartbeats, timers or other activities for more than
 * a slice, and is never held in memory whole when the consumer streams it out.
 */
export async function* encodeSliced<T>(
  items: Iterable<T>,
  encode: (item: T) => string,
  opts: { open?: string; separator?: string; close?: string } = {},
): AsyncGenerator<Buffer> {
  const separator = opts.separator ?? '\n';
  let parts: string[] = opts.open ? [opts.open] : [];
  let bytes = 0;
  let first = true;
  for (const item of items) {
    const text = encode(item);
    parts.push(first ? text : separator + text);
    first = false;
    bytes += text.length;
    if (bytes >= SLICE_BYTES || parts.length >= SLICE_ITEMS) {
      yield Buffer.from(parts.join(''));
      parts = [];
      bytes = 0;
      await nextTurn();
    }
  }
  if (opts.close) parts.push(opts.close);
  if (parts.length > 0) yield Buffer.from(parts.join(''));
}

/** JSONL: one line per item, each ending in a newline. */
export function encodeJsonl<T>(items: Iterable<T>, encode: (item: T) => string): AsyncGenerator<Buffer> {
  return encodeSliced(items, encode, { separator: '\n', close: '\n' });
}
