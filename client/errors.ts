/**
 * Typed errors of the Drover client. Every error the client throws on purpose is a `DroverError`;
 * `instanceof` on a subclass tells what happened:
 *
 * | class                 | when                                                        | retried |
 * |-----------------------|-------------------------------------------------------------|---------|
 * | `ValidationError`     | 400 / 422: the request was refused, `issues` names each problem | no   |
 * | `AuthenticationError` | 401 / 403                                                   | no      |
 * | `NotFoundError`       | 404: no such batch, item or route                           | no      |
 * | `ConflictError`       | 409: e.g. `batch_ended`, a message to a batch that has ended | no     |
 * | `RateLimitError`      | 429 (`retryAfterMs` from `Retry-After`)                     | yes     |
 * | `ServerError`         | 5xx                                                         | yes     |
 * | `ConnectionError`     | no HTTP answer: refused, reset, DNS (`TimeoutError`: no answer in time) | yes |
 * | `DroverResponseError` | a 2xx whose body is not what the API promises               | no      |
 * | `WaitTimeoutError`    | `wait()` gave up before the batch ended                     | no      |
 * | `OutputParseError`    | a succeeded row's output does not satisfy the caller's zod schema | no |
 */

/** One problem with a request, as the API reports it: `path` names the field, `line` the NDJSON line. */
export interface Issue {
  path: string;
  message: string;
  line?: number | undefined;
}

export interface DroverErrorInit {
  /** The HTTP status, or undefined when no answer came (connection errors). */
  status?: number | undefined;
  /** The API's `error.type` (`invalid_request`, `not_found`, `batch_ended`, …), or a client-side one. */
  type: string;
  message: string;
  issues?: Issue[] | undefined;
  /** The `x-request-id` the server answered with (the client sends one per call, reused across retries). */
  requestId?: string | undefined;
  cause?: unknown;
}

export class DroverError extends Error {
  readonly status: number | undefined;
  readonly type: string;
  readonly issues: Issue[] | undefined;
  readonly requestId: string | undefined;

  constructor(init: DroverErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.status = init.status;
    this.type = init.type;
    this.issues = init.issues;
    this.requestId = init.requestId;
  }
}

/** 401 or 403: the API key is missing, wrong, or not allowed to do this. */
export class AuthenticationError extends DroverError {}

/** 404: the batch (or item, or route) does not exist for this caller. */
export class NotFoundError extends DroverError {}

/** 409: the request conflicts with the batch's state, e.g. `batch_ended`. */
export class ConflictError extends DroverError {}

/** 400 or 422: the request was refused; `issues` lists every problem with its path (and NDJSON line). */
export class ValidationError extends DroverError {}

/** 429: too many requests. `retryAfterMs` is the server's `Retry-After`, when it sent one. */
export class RateLimitError extends DroverError {
  readonly retryAfterMs: number | undefined;
  constructor(init: DroverErrorInit & { retryAfterMs?: number | undefined }) {
    super(init);
    this.retryAfterMs = init.retryAfterMs;
  }
}

/** 5xx: the server failed; retried with backoff before it reaches the caller. */
export class ServerError extends DroverError {}

/** No HTTP answer at all: the connection was refused or broke. Retried with backoff. */
export class ConnectionError extends DroverError {}

/** No answer (or, while streaming, no data) within `timeoutMs`. A kind of connection error. */
export class TimeoutError extends ConnectionError {}

/**
 * A successful status whose body is not what the API promises (not JSON, or not the documented
 * shape). `issues` holds what did not match; `body` the parsed or raw body.
 */
export class DroverResponseError extends DroverError {
  readonly body: unknown;
  constructor(init: DroverErrorInit & { body?: unknown }) {
    super(init);
    this.body = init.body;
  }
}

/** `batches.wait()` reached its `timeoutMs` before the batch ended; `batch` is the last state seen. */
export class WaitTimeoutError extends DroverError {
  readonly batch: unknown;
  constructor(message: string, batch: unknown) {
    super({ type: 'wait_timeout', message });
    this.batch = batch;
  }
}

/** A succeeded row whose output does not satisfy the zod schema given to `withSchema`. */
export class OutputParseError extends DroverError {
  readonly itemId: string;
  readonly output: unknown;
  constructor(itemId: string, output: unknown, issues: Issue[], cause?: unknown) {
    super({
      type: 'output_parse_failed',
      message: `the output of item ${JSON.stringify(itemId)} does not match the schema: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      issues,
      cause,
    });
    this.itemId = itemId;
    this.output = output;
  }
}

/** Whether the client retries after this error (429, 5xx, connection errors). */
export function isRetryable(err: unknown): boolean {
  return err instanceof RateLimitError || err instanceof ServerError || err instanceof ConnectionError;
}

/** The error class for an HTTP error status. */
export function errorForStatus(init: DroverErrorInit & { status: number; retryAfterMs?: number | undefined }): DroverError {
  const s = init.status;
  if (s === 401 || s === 403) return new AuthenticationError(init);
  if (s === 404) return new NotFoundError(init);
  if (s === 409) return new ConflictError(init);
  if (s === 400 || s === 422) return new ValidationError(init);
  if (s === 429) return new RateLimitError(init);
  if (s >= 500) return new ServerError(init);
  return new DroverError(init);
}
