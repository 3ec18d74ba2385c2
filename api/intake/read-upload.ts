import type { Readable } from 'node:stream';
import type { Request } from 'express';
import { ValidationError } from '../errors.js';
import { decodedBody } from './limits.js';
import { multipartFile } from './multipart.js';

type FileFormat = 'jsonl' | 'csv';

/** The name and format the query string gives, which win over the form's and the headers'. */
export interface NamedUpload {
  filename?: string | undefined;
  format?: FileFormat | undefined;
}

/** An upload as read from the request: its bytes, not yet read, with the name and format it is stored under. */
export interface Upload {
  body: Readable;
  filename: string;
  format: FileFormat;
}

/** The format named outright, else the content type, else the file name's extension. */
function formatOf(named: string | undefined, contentType: string | undefined, filename: string | undefined): FileFormat | null {
  if (named === 'csv' || named === 'jsonl') return named;
  if (contentType && /csv/.test(contentType)) return 'csv';
  if (contentType && /(ndjson|jsonl|json-lines|jsonlines)/.test(contentType)) return 'jsonl';
  if (filename?.endsWith('.csv')) return 'csv';
  if (filename?.endsWith('.jsonl') || filename?.endsWith('.ndjson')) return 'jsonl';
  return null;
}

/** The bytes, name and format as sent: the `file` part of a multipart form, or the raw body. */
async function sent(
  req: Request,
  query: NamedUpload,
): Promise<{ body: Readable; filename: string | undefined; format: FileFormat | null }> {
  if (!req.is('multipart/form-data')) {
    return { body: decodedBody(req), filename: query.filename, format: formatOf(query.format, req.get('content-type'), query.filename) };
  }
  const part = await multipartFile(req);
  const named = query.format ?? part.fields.format;
  if (named !== undefined && named !== 'csv' && named !== 'jsonl') {
    part.stream.resume();
    throw new ValidationError([{ path: 'format', message: `format is csv or jsonl, not ${JSON.stringify(named)}` }]);
  }
  const filename = query.filename ?? part.fields.filename ?? part.filename;
  // Browsers send application/octet-stream for an unknown extension: then the name decides.
  return { body: part.stream, filename, format: formatOf(named, part.mimeType, filename) };
}

/**
 * A JSONL or CSV file as the multipart field `file` (`curl -F file=@items.csv`) or as the raw
 * body (`Content-Type: text/csv` or `application/x-ndjson`, `?filename=`).
 */
export async function readUpload(req: Request, query: NamedUpload): Promise<Upload> {
  const { body, filename, format } = await sent(req, query);
  const badName = filename === undefined ? null : filenameProblem(filename);
  if (badName) {
    body.resume();
    throw new ValidationError([{ path: 'filename', message: badName }]);
  }
  if (!format) {
    body.resume();
    throw new ValidationError([
      {
        path: 'format',
        message: 'say csv or jsonl: ?format=, a Content-Type of text/csv or application/x-ndjson, or a filename ending .csv or .jsonl',
      },
    ]);
  }
  return { body, filename: filename ?? `upload.${format}`, format };
}

/**
 * A file name is a label shown back, never a path: one with a directory part (`../`, `/`, `\\`),
 * a control character or over 255 bytes is refused rather than stored for some later tool to
 * follow.
 */
export function filenameProblem(name: string): string | null {
  if (name.includes('/') || name.includes('\\')) return 'a file name, not a path: no / or \\';
  if (name === '.' || name === '..') return 'a file name, not a directory';
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'no control characters (NUL, newline, …)';
  if (Buffer.byteLength(name) > 255) return 'at most 255 bytes';
  return null;
}
