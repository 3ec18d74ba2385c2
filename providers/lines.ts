/** Splits a byte stream into lines without holding the whole file: provider outputs reach 200 MB. */
export async function* readLines(body: ReadableStream<Uint8Array> | null): AsyncGenerator<string> {
  if (!body) return;
  const decoder = new TextDecoder();
  let rest = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    rest += decoder.decode(chunk, { stream: true });
    const lines = rest.split('\n');
    rest = lines.pop()!;
    for (const line of lines) if (line.trim()) yield line.replace(/\r$/, '');
  }
  rest += decoder.decode();
  if (rest.trim()) yield rest.replace(/\r$/, '');
}
