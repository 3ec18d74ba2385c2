import type { StreamingBody } from './http.js';

/** Lines are gathered into chunks of about this many bytes before they go to the socket. */
const CHUNK_BYTES = 64 * 1024;

/**
 * An NDJSON request body pulled from `items` one chunk at a time: the socket's backpressure
 * reaches the caller's iterator, so a million-item upload never sits in memory.
 */
export function ndjsonBody(items: AsyncIterable<unknown> | Iterable<unknown>): StreamingBody {
  const encoder = new TextEncoder();
  let iterator: AsyncIterator<unknown> | Iterator<unknown> | undefined;
  let failure: unknown;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        iterator ??=
          Symbol.asyncIterator in items
            ? (items as AsyncIterable<unknown>)[Symbol.asyncIterator]()
            : (items as Iterable<unknown>)[Symbol.iterator]();
        let text = '';
        while (text.length < CHUNK_BYTES) {
          const next = await iterator.next();
          if (next.done) {
            if (text) controller.enqueue(encoder.encode(text));
            controller.close();
            return;
          }
          const line = JSON.stringify(next.value);
          if (line === undefined) throw new TypeError('an NDJSON item must be a JSON value');
          text += line + '\n';
        }
        controller.enqueue(encoder.encode(text));
      } catch (err) {
        failure = err ?? new Error('the items iterator failed');
        controller.error(failure);
      }
    },
    async cancel() {
      await iterator?.return?.();
    },
  });
  return { body, contentType: 'application/x-ndjson', failure: () => failure };
}

/** Splits a byte stream into lines (`\n`, with any `\r` before it dropped); the last line may lack its `\n`. */
export async function* splitLines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let rest = '';
  for await (const chunk of chunks) {
    rest += decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let nl = rest.indexOf('\n'); nl !== -1; nl = rest.indexOf('\n', start)) {
      const end = nl > start && rest.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      yield rest.slice(start, end);
      start = nl + 1;
    }
    rest = rest.slice(start);
  }
  rest += decoder.decode();
  if (rest) yield rest.endsWith('\r') ? rest.slice(0, -1) : rest;
}
