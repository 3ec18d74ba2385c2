/**
 * A route table small enough to read in one go. Handlers receive the parsed request and return a
 * `Reply` or throw an `ApiError`; the server does auth, fault injection, stats and error bodies in
 * one place, keyed by the route's pattern.
 *
 * Pattern segments: `:name` matches one path segment; `:name:verb` matches a segment ending in the
 * literal `:verb` (Google's custom methods, `models/gemini-2.5-flash:generateContent`); a router
 * built with `constraints` restricts the named parameters to a regex (Gemini's API version).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { badRequest } from './api-error.js';

export interface RequestContext {
  method: string;
  path: string;
  /** `http://host:port` as the client addressed this server, for absolute URLs in responses. */
  origin: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  requestId: string;
}

interface ReplyBase {
  status?: number;
  headers?: Readonly<Record<string, string>>;
}

export type Reply = (ReplyBase & { json: unknown }) | (ReplyBase & { raw: Buffer; contentType: string }) | (ReplyBase & { status: 204 });

export type Handler = (ctx: RequestContext) => Reply | Promise<Reply>;

export interface Route {
  method: string;
  /** e.g. `/v1/files/:id/content`; also the key in `stats.requests`. */
  pattern: string;
  handler: Handler;
  regex: RegExp;
  keys: string[];
}

const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class Router {
  private readonly routes: Route[] = [];

  /** @param constraints regex source (without capture groups) a parameter of that name must match */
  constructor(private readonly constraints: Readonly<Record<string, string>> = {}) {}

  /** Routes are tried in the order added, so add `/x/:id:verb` before `/x/:id`. */
  add(method: string, pattern: string, handler: Handler): this {
    const keys: string[] = [];
    const source = pattern
      .split('/')
      .map((segment) => {
        if (!segment.startsWith(':')) return escapeRegex(segment);
        const [, name = '', suffix = ''] = /^:(\w+)(.*)$/.exec(segment) ?? [];
        keys.push(name);
        const constraint = this.constraints[name];
        const group = constraint !== undefined ? `(${constraint})` : suffix ? '([^/]+?)' : '([^/]+)';
        return group + escapeRegex(suffix);
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

const OPENAI_UNPARSEABLE =
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)";

/** Parses a JSON object body; `unparseable` is the provider's wording for broken JSON (OpenAI's by default). */
export function jsonBody(ctx: RequestContext, unparseable: string = OPENAI_UNPARSEABLE): Record<string, unknown> {
  if (ctx.body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(ctx.body.toString('utf8'));
  } catch {
    throw badRequest(unparseable);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw badRequest('The request body must be a JSON object.');
  }
  return parsed as Record<string, unknown>;
}

/** First value of a request header (Node joins most repeated headers, but not all). */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
