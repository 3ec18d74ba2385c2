/**
 * Every line of a byte stream, blank ones included (callers number them), pulled one chunk at a
 * time: the producer is only read as fast as lines are consumed, so memory stays bounded
 * whatever the size (readline, by contrast, keeps reading while its consumer is busy).
 */
export async function* splitLines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let rest = '';
  for await (const chunk of chunks) {
    rest += decoder.decode(chunk, { stream: true });
    const lines = rest.split('\n');
    rest = lines.pop()!;
    for (const line of lines) yield line.endsWith('\r') ? line.slice(0, -1) : line;
  }
  rest += decoder.decode();
  if (rest) yield rest.endsWith('\r') ? rest.slice(0, -1) : rest;
}
