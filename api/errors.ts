import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { ErrorRequestHandler } from 'express';
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

export class NotFoundError extends AppError {
  constructor(what: string) {
    super(404, 'not_found', `${what} not found`);
  }
}

/** The one error body every route answers with. */
export function errorBody(type: string, message: string, issues?: Issue[]): ErrorBody {
  return { error: { type, message, ...(issues ? { issues } : {}) } };
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (err instanceof AppError) {
      res.status(err.status).json(errorBody(err.type, err.message, err.issues));
      return;
    }
    // body-parser's errors: malformed JSON, too large, bad charset.
    if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500 && typeof err.type === 'string') {
      const type =
        err.type === 'entity.parse.failed' ? 'invalid_json' : err.type === 'entity.too.large' ? 'body_too_large' : 'invalid_request';
      const message = type === 'invalid_json' ? `the body is not valid JSON: ${err.message}` : err.message;
      res.status(err.status).json(errorBody(type, message));
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
