import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { IncomingMessage } from 'node:http';
import type { ErrorRequestHandler } from 'express';
import { countNewlines, firstInvalidUtf8 } from '../domain/utf8.js';
import type { Logger } from 'pino';
import type { Issue } from '../domain/issues.js';
import type { ErrorBody } from '../domain/responses.js';

/** An error whose HTTP meaning is known where it is thrown; mapped to a response at the edge. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly issues?: Issue[],
  ) {
    super(message);
  }
}

export class ValidationError extends AppError {
  readonly issueCount: number;

  constructor(issues: Issue[], totalIssues = issues.length) {
    const more = totalIssues > issues.length ? ` (showing the first ${issues.length} of ${totalIssues})` : '';
    super(400, 'invalid_request', `the request has ${totalIssues} problem${totalIssues === 1 ? '' : 's'}${more}`, issues);
    this.issueCount = totalIssues;
  }
}

/**
 * A request over one of this deployment's limits (a 413): the message names the limit and the
 * way around it (NDJSON, `/v1/files`, smaller batches).
 */
export class LimitError extends AppError {
  constructor(message: string, issues?: Issue[]) {
    super(413, 'limit_exceeded', message, issues);
  }
}

export class NotFoundError extends AppError {
  constructor(what: string) {
    super(404, 'not_found', `${what} not found`);
  }
}

/** The one error body every route answers with. */
export function errorBody(type: string, message: string, issues?: Issue[]): ErrorBody {
  return { error: { type, message, ...(issues ? { issues } : {}) } };
}

export function errorHandler(logger: Logger, limits: { jsonLimit?: string } = {}): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (err instanceof AppError) {
      res.status(err.status).json(errorBody(err.type, err.message, err.issues));
      return;
    }
    const edge = edgeError(err, limits.jsonLimit ?? '100mb');
    if (edge) {
      res.status(edge.status).json(errorBody(edge.type, edge.message, edge.issues));
      return;
    }
    if (err instanceof WorkflowNotFoundError) {
      res.status(404).json(errorBody('not_found', 'workflow not found'));
      return;
    }
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      res.status(409).json(errorBody('conflict', 'already started'));
      return;
    }
    logger.error({ err, path: req.path }, 'unhandled error');
    if (!res.headersSent) res.status(500).json(errorBody('internal_error', 'internal error; see the server log'));
    // Mid-stream: end the connection abruptly, so the client sees a broken export, not a short one.
    else res.destroy(err instanceof Error ? err : new Error(String(err)));
  };
}

/**
 * Errors Express and body-parser raise before a handler runs, as 4xx in the one error shape:
 * a path that is not valid percent-encoding, a compressed body that does not decompress, a JSON
 * body too large, malformed or in an unsupported charset.
 */
function edgeError(err: unknown, jsonLimit: string): AppError | null {
  const e = err as { status?: unknown; type?: unknown; code?: unknown; message?: unknown } | null;
  if (err instanceof URIError || (e?.status === 400 && typeof e.message === 'string' && e.message.startsWith('Failed to decode param'))) {
    const raw = typeof e?.message === 'string' ? /'(.*)'/.exec(e.message)?.[1] : undefined;
    return new AppError(400, 'invalid_request', 'the URL path is not valid percent-encoding', [
      { path: '(path)', message: `cannot decode ${raw ? JSON.stringify(raw) : 'a path segment'}: use %XX escapes of UTF-8 bytes` },
    ]);
  }
  if (typeof e?.code === 'string' && e.code.startsWith('Z_'))
    return new AppError(400, 'invalid_request', `the body does not decompress as its Content-Encoding says: ${String(e.message)}`, [
      { path: 'Content-Encoding', message: 'the body is not in this encoding' },
    ]);
  if (typeof e?.status !== 'number' || e.status < 400 || e.status >= 500) return null;
  // body-parser's errors: malformed JSON, too large, bad charset.
  if (e.type === 'entity.parse.failed') return new AppError(e.status, 'invalid_json', `the body is not valid JSON: ${String(e.message)}`);
  if (e.type === 'entity.too.large')
    return new AppError(
      413,
      'body_too_large',
      `the JSON body is over ${jsonLimit} (DROVER_JSON_LIMIT): send the items as NDJSON (Content-Type: application/x-ndjson, settings in the query string) or upload them (POST /v1/files) and pass input_file_id`,
      [{ path: '(body)', message: `at most ${jsonLimit}` }],
    );
  return new AppError(e.status, 'invalid_request', String(e.message));
}

/**
 * express.json's `verify`: a UTF-8 JSON body with a byte that is not UTF-8 is refused (400 naming
 * the line and byte) instead of being decoded with U+FFFD in its place.
 */
export function refuseInvalidUtf8(_req: IncomingMessage, _res: unknown, buf: Buffer, encoding: string | null): void {
  if (encoding && encoding.toLowerCase() !== 'utf-8' && encoding.toLowerCase() !== 'utf8') return;
  const bad = firstInvalidUtf8(buf);
  if (bad < 0) return;
  const line = countNewlines(buf, bad) + 1;
  throw new ValidationError([{ path: '(body)', line, message: `not valid UTF-8 at byte ${bad} (line ${line}): send UTF-8 text` }]);
}
