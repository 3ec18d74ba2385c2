/**
 * A minimal multipart/form-data parser for the SDK's uploads (RFC 7578). The SDK sends either
 * undici's FormData encoding or its own streaming encoder; both write `Content-Disposition` with
 * quoted `name`/`filename` and percent-escape `"`, `\`, CR and LF inside them, which is undone here.
 */
import { badRequest } from './api-error.js';

export interface MultipartPart {
  name: string;
  filename?: string;
  contentType?: string;
  data: Buffer;
}

export function parseMultipart(body: Buffer, contentType: string): MultipartPart[] {
  const boundary = boundaryOf(contentType);
  if (!boundary) throw badRequest('Invalid multipart/form-data request: missing boundary.');
  const delimiter = Buffer.from(`--${boundary}`);
  const nextDelimiter = Buffer.from(`\r\n--${boundary}`);
  const parts: MultipartPart[] = [];

  let pos = body.indexOf(delimiter);
  if (pos < 0) throw badRequest('Invalid multipart/form-data request: boundary not found.');
  for (;;) {
    const after = pos + delimiter.length;
    if (body[after] === 0x2d && body[after + 1] === 0x2d) return parts; // closing "--"
    const headerStart = body.indexOf('\r\n', after) + 2;
    const headerEnd = body.indexOf('\r\n\r\n', headerStart);
    if (headerStart < 2 || headerEnd < 0) throw badRequest('Invalid multipart/form-data request: truncated part headers.');
    const headers = parseHeaders(body.subarray(headerStart, headerEnd).toString('utf8'));
    const dataStart = headerEnd + 4;
    const dataEnd = body.indexOf(nextDelimiter, dataStart);
    if (dataEnd < 0) throw badRequest('Invalid multipart/form-data request: missing closing boundary.');

    const disposition = parseParams(headers.get('content-disposition') ?? '');
    const name = disposition.get('name');
    if (name === undefined) throw badRequest('Invalid multipart/form-data request: part without a name.');
    const filename = disposition.get('filename*') ?? disposition.get('filename');
    const partType = headers.get('content-type');
    parts.push({
      name,
      data: body.subarray(dataStart, dataEnd),
      ...(filename !== undefined ? { filename } : {}),
      ...(partType !== undefined ? { contentType: partType } : {}),
    });
    pos = dataEnd + 2;
  }
}

function boundaryOf(contentType: string): string | undefined {
  const match = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return match?.[1] ?? match?.[2];
}

function parseHeaders(text: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return headers;
}

/** Parameters of a `form-data; name="x"; filename="y"` header value, unescaped. */
function parseParams(value: string): Map<string, string> {
  const params = new Map<string, string>();
  const re = /;\s*([^=;\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    const key = (m[1] as string).toLowerCase();
    const raw = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '').trim();
    params.set(key, key.endsWith('*') ? decodeExtValue(raw) : unescapeSdk(raw));
  }
  return params;
}

function unescapeSdk(text: string): string {
  return text.replace(/%(22|5C|0D|0A)/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/** RFC 5987 `UTF-8''na%C3%AFve.jsonl`. */
function decodeExtValue(text: string): string {
  const quote = text.indexOf("''");
  try {
    return decodeURIComponent(quote >= 0 ? text.slice(quote + 2) : text);
  } catch {
    return text;
  }
}
