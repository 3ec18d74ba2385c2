import { splitLines } from '../domain/lines.js';

/** The non-blank lines of a provider's file, streamed: provider outputs reach 200 MB. */
export async function* readLines(body: ReadableStream<Uint8Array> | null): AsyncGenerator<string> {
  if (!body) return;
  for await (const line of splitLines(body as unknown as AsyncIterable<Uint8Array>)) if (line.trim()) yield line;
}
