/** A CSV that cannot be read as its author meant: the line the problem is on. */
export class CsvSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * RFC 4180 records from a stream of text chunks: quoted fields may hold commas, doubled quotes
 * and line breaks, and a chunk may end anywhere. Yields each record with the line it began on.
 * A quote inside an unquoted field is an ordinary character (`5" screen`); a quoted field still
 * open at the end of the file is an error naming the line it opened on, rather than one field
 * silently holding every row after it.
 */
export async function* csvRecords(chunks: AsyncIterable<string>): AsyncGenerator<{ line: number; fields: string[] }> {
  let field = '';
  let fields: string[] = [];
  let quoted = false;
  let afterQuote = false;
  let line = 1;
  let startLine = 1;
  let quoteLine = 1;
  let pendingCR = false;
  const endRecord = function* () {
    fields.push(field);
    const record = { line: startLine, fields };
    field = '';
    fields = [];
    if (!(record.fields.length === 1 && record.fields[0] === '')) yield record;
  };
  for await (const chunk of chunks) {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (pendingCR) {
        pendingCR = false;
        if (c === '\n') continue;
      }
      if (quoted) {
        if (c === '"') {
          quoted = false;
          afterQuote = true;
        } else {
          if (c === '\n') line++;
          field += c;
        }
        continue;
      }
      if (c === '"' && (afterQuote || field === '')) {
        // A quote right after a closing quote is an escaped quote inside the field.
        if (afterQuote) field += '"';
        else quoteLine = line;
        quoted = true;
        afterQuote = false;
        continue;
      }
      afterQuote = false;
      if (c === ',') {
        fields.push(field);
        field = '';
      } else if (c === '\n' || c === '\r') {
        yield* endRecord();
        line++;
        startLine = line;
        if (c === '\r') pendingCR = true;
      } else {
        field += c;
      }
    }
  }
  if (quoted) throw new CsvSyntaxError(quoteLine, `a quoted field opened on line ${quoteLine} is never closed: close it with "`);
  if (field !== '' || fields.length > 0) yield* endRecord();
}

/**
 * A CSV row as an item: `id` and `content` columns map to those fields, `metadata.<key>` columns
 * to metadata, and every other column to `inputs`, so templates can use it as a placeholder.
 */
export function csvItem(header: string[], fields: string[]): Record<string, unknown> {
  const item: Record<string, unknown> = {};
  const inputs: Record<string, string> = {};
  const metadata: Record<string, string> = {};
  header.forEach((name, i) => {
    const value = fields[i] ?? '';
    if (name === 'id' || name === 'content') item[name] = value;
    else if (name.startsWith('metadata.')) metadata[name.slice('metadata.'.length)] = value;
    else if (name) inputs[name] = value;
  });
  if (Object.keys(inputs).length > 0) item.inputs = inputs;
  if (Object.keys(metadata).length > 0) item.metadata = metadata;
  return item;
}
