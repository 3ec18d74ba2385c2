import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import { DEFAULT_MAX_JSON_DEPTH, inspectJson, jsonProblemMessage } from '../../domain/json-inspect.js';
import type { Issue } from '../../domain/issues.js';
import { AppError, LimitError, ValidationError } from '../errors.js';

/** What one request may hold. Each is an API setting (README, *Limits*); going over one is a 413 naming it. */
export interface IntakeLimits {
  /** Nesting of objects and arrays in any JSON the API reads. */
  maxJsonDepth: number;
  /** Bytes of one item's rendered prompt. */
  maxItemBytes: number;
  /** Items in one batch. */
  maxItems: number;
  /** Bytes of one NDJSON body or uploaded file, after decompression. */
  maxStreamBytes: number;
}

export const DEFAULT_INTAKE_LIMITS: IntakeLimits = {
  maxJsonDepth: DEFAULT_MAX_JSON_DEPTH,
  maxItemBytes: 32 * 1024 * 1024,
  maxItems: 5_000_000,
  maxStreamBytes: 2 * 1024 * 1024 * 1024,
};

/**
 * Refuses parsed JSON PostgreSQL could not store (a NUL character: 400) or nested past the
 * limit (413), naming the place. `line` for an NDJSON line or a file's line.
 */
export function checkJson(value: unknown, limits: Pick<IntakeLimits, 'maxJsonDepth'>, prefix = '', line?: number): void {
  const problem = inspectJson(value, limits.maxJsonDepth, prefix);
  if (!problem) return;
  const issue: Issue = { path: problem.path, message: jsonProblemMessage(problem, limits.maxJsonDepth) };
  if (line !== undefined) issue.line = line;
  if (problem.kind === 'nul') throw new ValidationError([issue]);
  throw new LimitError(
    `JSON nested more than ${limits.maxJsonDepth} levels deep (DROVER_MAX_JSON_DEPTH) at ${problem.path}${line === undefined ? '' : ` on line ${line}`}`,
    [issue],
  );
}

/** Query-string settings with a NUL character, named by parameter. */
export function nulInQuery(query: unknown): Issue[] {
  if (typeof query !== 'object' || query === null) return [];
  return Object.entries(query as Record<string, unknown>)
    .filter(([k, v]) => k.includes('\u0000') || (typeof v === 'string' && v.includes('\u0000')))
    .map(([k]) => ({ path: k.replaceAll('\u0000', '\\u0000'), message: 'contains a NUL character (%00), which cannot be stored' }));
}

const badEncoding = (encoding: string, err: Error) =>
  new ValidationError([{ path: 'Content-Encoding', message: `the body is not valid ${encoding}: ${err.message}` }]);

/**
 * A streamed body's bytes as sent, decompressed when `Content-Encoding` says gzip or deflate
 * (a body that is not what it claims is a 400 naming the header, not a broken stream).
 */
export function decodedBody(req: IncomingMessage): Readable {
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
  if (encoding === 'identity') return req;
  if (encoding !== 'gzip' && encoding !== 'deflate') {
    req.resume();
    throw new AppError(415, 'unsupported_encoding', `Content-Encoding ${encoding} is not supported; send identity, gzip or deflate`, [
      { path: 'Content-Encoding', message: 'identity, gzip or deflate' },
    ]);
  }
  const inflate = encoding === 'gzip' ? createGunzip() : createInflate();
  // The reader sees a failure through its iterator; a body never read must not crash the process.
  inflate.on('error', () => {});
  req.pipe(inflate);
  async function* inflated(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of inflate as AsyncIterable<Buffer>) yield chunk;
    } catch (err) {
      req.resume();
      throw badEncoding(encoding, err as Error);
    }
  }
  const out = Readable.from(inflated(), { objectMode: false });
  out.on('error', () => {});
  return out;
}

/** Passes chunks through, refusing the body (413) once it is over `max` bytes. */
export async function* byteLimited(
  chunks: AsyncIterable<Uint8Array>,
  max: number,
  what: string,
  wayOut: string,
): AsyncGenerator<Uint8Array> {
  let bytes = 0;
  for await (const chunk of chunks) {
    bytes += chunk.length;
    if (bytes > max)
      throw new LimitError(`the ${what} is over ${max.toLocaleString('en-US')} bytes (DROVER_MAX_UPLOAD_BYTES); ${wayOut}`, [
        { path: '(body)', message: `at most ${max.toLocaleString('en-US')} bytes` },
      ]);
    yield chunk;
  }
}

/** The 413 for a batch with more items than the limit. */
export function tooManyItems(max: number, where: Issue): LimitError {
  return new LimitError(
    `a batch may hold at most ${max.toLocaleString('en-US')} items (DROVER_MAX_ITEMS); split the items into several batches`,
    [{ ...where, message: `item ${(max + 1).toLocaleString('en-US')} is over the limit of ${max.toLocaleString('en-US')} items` }],
  );
}
