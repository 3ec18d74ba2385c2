/**
 * A route table small enough to read in one go. Handlers receive the parsed request and return a
 * `Reply` or throw an `ApiError`; the server does auth, fault injection, stats and error bodies in
 * one place, keyed by the route's pattern.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { badRequest } from './api-error.js';

export interface RequestContext {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  requestId: string;
}

export type Reply =
  | { status?: number; json: unknown }
  | { status?: number; raw: Buffer; contentType: string }
  | { status: 204 };

export type Handler = (ctx: RequestContext) => Reply | Promise<Reply>;

export interface Route {
  method: string;
  /** e.g. `/v1/files/:id/content`; also the key in `stats.requests`. */
  pattern: string;
  handler: Handler;
  regex: RegExp;
  keys: string[];
}

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler): this {
    const keys: string[] = [];
    const source = pattern
      .split('/')
      .map((segment) => {
        if (!segment.startsWith(':')) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        keys.push(segment.slice(1));
        return '([^/]+)';
      })
      .join('/');
    this.routes.push({ method, pattern, handler, regex: new RegExp(`^${source}/?$`), keys });
    return this;
  }

  match(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const m = route.regex.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      route.keys.forEach((key, i) => {
        params[key] = decodeURIComponent(m[i + 1] as string);
      });
      return { route, params };
    }
    return undefined;
  }
}

/** Parses a JSON object body with the error OpenAI gives for unparseable JSON. */
export function jsonBody(ctx: RequestContext): Record<string, unknown> {
  if (ctx.body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(ctx.body.toString('utf8'));
  } catch {
    throw badRequest(
      'We could not parse the JSON body of your request. (HINT: This likely means you aren\'t using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)',
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw badRequest('The request body must be a JSON object.');
  }
  return parsed as Record<string, unknown>;
}

/** `limit` query parameter within [1, max], or `fallback` when absent. */
export function limitParam(query: URLSearchParams, fallback: number, max: number): number {
  const raw = query.get('limit');
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw badRequest(`Invalid 'limit': integer between 1 and ${max} expected, got '${raw}'.`, 'limit', 'invalid_value');
  }
  return n;
}

/** OpenAI's CursorPage body; the SDK pages on `has_more` and the id of the last item. */
export function cursorPage<T extends { id: string }>(
  items: readonly T[],
  after: string | null,
  limit: number,
): { object: 'list'; data: T[]; first_id: string | null; last_id: string | null; has_more: boolean } {
  let start = 0;
  if (after) {
    const index = items.findIndex((item) => item.id === after);
    start = index < 0 ? items.length : index + 1;
  }
  const data = items.slice(start, start + limit);
  return {
    object: 'list',
    data,
    first_id: data[0]?.id ?? null,
    last_id: data[data.length - 1]?.id ?? null,
    has_more: start + limit < items.length,
  };
}
