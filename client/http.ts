import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import {
  ConnectionError,
  DroverError,
  DroverResponseError,
  RateLimitError,
  TimeoutError,
  errorForStatus,
  isRetryable,
  type Issue,
} from './errors.js';
import { ErrorBody } from './schemas.js';

/** The transport under every resource: one place for headers, timeouts, retries and error mapping. */

export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface TransportOptions {
  baseUrl: string;
  apiKey?: string | undefined;
  maxRetries: number;
  timeoutMs: number;
  fetch: FetchLike;
  /** First backoff step; doubled each retry, up to `retryMaxDelayMs`, with jitter. */
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  /** A `Retry-After` longer than this is not waited out: the RateLimitError is thrown at once. */
  maxRetryAfterMs: number;
  headers: Record<string, string>;
}

export type QueryValue = string | number | boolean | null | undefined;

export interface RequestSpec {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, QueryValue> | undefined;
  /** A JSON body, serialised once and resent as is on a retry. */
  json?: unknown;
  /** A body built afresh for each attempt (streams). */
  body?: (() => StreamingBody) | undefined;
  /** `false` allows only one attempt: a stream that cannot be rebuilt, or a call that must not run twice. */
  replayable?: boolean | undefined;
  signal?: AbortSignal | undefined;
  accept?: string | undefined;
}

export interface StreamingBody {
  body: ReadableStream<Uint8Array>;
  contentType: string;
  /** Set when the body's own source failed (the caller's iterator threw): rethrown as is. */
  failure(): unknown;
}

/** A timeout that can be pushed back: whole-request for JSON, idle-between-chunks for streams. */
export class Deadline {
  private timer: NodeJS.Timeout | undefined;
  timedOut = false;
  constructor(
    private readonly ms: number,
    private readonly controller: AbortController,
  ) {
    this.reset();
  }
  reset(): void {
    this.clear();
    if (!Number.isFinite(this.ms)) return;
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new Error('timeout'));
    }, this.ms);
    this.timer.unref?.();
  }
  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** What one attempt has in hand once the status and headers are in. */
export interface Attempt {
  res: Response;
  requestId: string;
  deadline: Deadline;
  controller: AbortController;
  signal?: AbortSignal | undefined;
  describe: string;
}

/** A wait that an AbortSignal cuts short (rejecting with its reason). */
export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export function formatZodPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${String(part)}` : String(part);
  return out || '(body)';
}

export function zodIssues(error: z.ZodError): Issue[] {
  return error.issues.map((i) => ({ path: formatZodPath(i.path), message: i.message }));
}

export class Transport {
  constructor(readonly options: TransportOptions) {}

  url(path: string, query?: Record<string, QueryValue>): string {
    const base = this.options.baseUrl.replace(/\/+$/, '');
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null) qs.set(k, String(v));
    const s = qs.toString();
    return `${base}${path}${s ? `?${s}` : ''}`;
  }

  /** A JSON request: retried as a whole (body included) and parsed with `schema`. */
  async json<S extends z.ZodType>(spec: RequestSpec, schema: S): Promise<z.output<S>> {
    return this.withRetries(spec, async (requestId) => {
      const a = await this.attempt(spec, requestId);
      let text: string;
      try {
        text = await a.res.text();
      } catch (err) {
        throw this.transportError(err, a.deadline, a.signal, a.describe, a.requestId);
      } finally {
        a.deadline.clear();
      }
      return parseBody(text, schema, a);
    });
  }

  /**
   * A streaming response: retried until the headers are in, never after. The caller reads
   * `res.body` through `readChunks`, which keeps an idle timeout and maps errors.
   */
  async stream(spec: RequestSpec): Promise<Attempt> {
    return this.withRetries(spec, (requestId) => this.attempt(spec, requestId));
  }

  /** The body of a streaming attempt, chunk by chunk; the deadline becomes an idle timeout. */
  async *readChunks(a: Attempt): AsyncGenerator<Uint8Array> {
    if (!a.res.body) {
      a.deadline.clear();
      return;
    }
    const reader = a.res.body.getReader();
    let done = false;
    try {
      for (;;) {
        a.deadline.reset();
        let r: Awaited<ReturnType<typeof reader.read>>;
        try {
          r = await reader.read();
        } catch (err) {
          throw this.transportError(err, a.deadline, a.signal, a.describe, a.requestId);
        }
        // The clock runs only while waiting on the server, never while the caller is busy with a row.
        a.deadline.clear();
        if (r.done) {
          done = true;
          return;
        }
        yield r.value;
      }
    } finally {
      a.deadline.clear();
      // Stopped early (break, error): let the server stop sending.
      if (!done) await reader.cancel().catch(() => {});
      reader.releaseLock();
    }
  }

  private async withRetries<T>(spec: RequestSpec, run: (requestId: string) => Promise<T>): Promise<T> {
    const requestId = randomUUID();
    const maxRetries = spec.replayable === false ? 0 : this.options.maxRetries;
    for (let attempt = 0; ; attempt++) {
      try {
        return await run(requestId);
      } catch (err) {
        if (!isRetryable(err) || attempt >= maxRetries) throw err;
        let delay = this.backoff(attempt);
        if (err instanceof RateLimitError && err.retryAfterMs !== undefined) {
          if (err.retryAfterMs > this.options.maxRetryAfterMs) throw err;
          delay = err.retryAfterMs;
        }
        await sleep(delay, spec.signal);
      }
    }
  }

  /** Exponential backoff with jitter: half the step fixed, half random. */
  private backoff(attempt: number): number {
    const step = Math.min(this.options.retryMaxDelayMs, this.options.retryBaseDelayMs * 2 ** attempt);
    return step / 2 + Math.random() * (step / 2);
  }

  private async attempt(spec: RequestSpec, requestId: string): Promise<Attempt> {
    const controller = new AbortController();
    const signal = spec.signal ? AbortSignal.any([controller.signal, spec.signal]) : controller.signal;
    const deadline = new Deadline(this.options.timeoutMs, controller);
    const describe = `${spec.method} ${spec.path}`;
    const headers: Record<string, string> = {
      accept: spec.accept ?? 'application/json',
      'x-request-id': requestId,
      ...this.options.headers,
    };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    const init: RequestInit & { duplex?: 'half' } = { method: spec.method, headers, signal };
    let streaming: StreamingBody | undefined;
    if (spec.body) {
      streaming = spec.body();
      headers['content-type'] = streaming.contentType;
      init.body = streaming.body;
      init.duplex = 'half';
    } else if (spec.json !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(spec.json);
    }
    let res: Response;
    try {
      res = await this.options.fetch(this.url(spec.path, spec.query), init);
    } catch (err) {
      deadline.clear();
      const own = streaming?.failure();
      if (own !== undefined) throw own;
      throw this.transportError(err, deadline, spec.signal, describe, requestId);
    }
    const serverId = res.headers.get('x-request-id') ?? requestId;
    if (res.ok) return { res, requestId: serverId, deadline, controller, signal: spec.signal, describe };

    let text = '';
    try {
      text = await res.text();
    } catch {
      // The status alone still says what happened.
    } finally {
      deadline.clear();
    }
    throw errorFromResponse(res, text, serverId, describe);
  }

  /** A failure without an HTTP answer: the caller's abort passes through; the rest are ConnectionErrors. */
  private transportError(err: unknown, deadline: Deadline, signal: AbortSignal | undefined, describe: string, requestId: string): unknown {
    if (err instanceof DroverError) return err;
    if (signal?.aborted) return signal.reason;
    if (deadline.timedOut)
      return new TimeoutError({
        type: 'timeout',
        message: `${describe}: no response within ${this.options.timeoutMs} ms`,
        requestId,
        cause: err,
      });
    const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
    const detail = cause?.code ?? cause?.message ?? (err as Error)?.message ?? String(err);
    return new ConnectionError({
      type: 'connection_error',
      message: `${describe}: could not reach ${this.options.baseUrl} (${detail})`,
      requestId,
      cause: err,
    });
  }
}

function errorFromResponse(res: Response, text: string, requestId: string, describe: string): DroverError {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const parsed = ErrorBody.safeParse(body);
  const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
  if (parsed.success) {
    const e = parsed.data.error;
    return errorForStatus({ status: res.status, type: e.type, message: e.message, issues: e.issues, requestId, retryAfterMs });
  }
  const snippet = text.trim().slice(0, 200);
  return errorForStatus({
    status: res.status,
    type: 'http_error',
    message: `${describe}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${snippet ? `: ${snippet}` : ''}`,
    requestId,
    retryAfterMs,
  });
}

function parseBody<S extends z.ZodType>(text: string, schema: S, a: Attempt): z.output<S> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new DroverResponseError({
      status: a.res.status,
      type: 'invalid_response',
      message: `${a.describe}: the response is not JSON: ${text.trim().slice(0, 200)}`,
      requestId: a.requestId,
      body: text,
      cause: err,
    });
  }
  return parseValue(body, schema, a.describe, a.res.status, a.requestId);
}

/** Checks a value against a response schema; a mismatch names every field that is off. */
export function parseValue<S extends z.ZodType>(
  value: unknown,
  schema: S,
  describe: string,
  status?: number,
  requestId?: string,
): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues = zodIssues(r.error);
  const shown = issues
    .slice(0, 5)
    .map((i) => `${i.path}: ${i.message}`)
    .join('; ');
  throw new DroverResponseError({
    status,
    type: 'invalid_response',
    message: `${describe}: the response does not have the expected shape (${shown}${issues.length > 5 ? `; and ${issues.length - 5} more` : ''})`,
    issues,
    requestId,
    body: value,
  });
}
