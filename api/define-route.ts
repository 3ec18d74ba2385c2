import { Router, type Request, type Response } from 'express';
import type { z } from 'zod';
import { zodIssues, type Issue } from '../domain/issues.js';
import type { Scope } from '../domain/responses.js';
import { authorize } from './auth/authenticator.js';
import { allows, type Caller } from './auth/keys.js';
import { ValidationError } from './errors.js';

/**
 * Each route is declared once: what it parses, what it answers and its handler. The builder
 * parses with zod (one 400 naming each bad field), mounts the handler on Express, and keeps the
 * declaration for the OpenAPI document (openapi.ts), so the reference cannot miss a route.
 */

export type Tag = 'Batches' | 'Results' | 'Completions' | 'Files' | 'Admin' | 'Service';

/**
 * A piece of the OpenAPI document in which any zod schema stands for its JSON Schema (a `$ref`
 * for a named one); openapi.ts converts them, as input for requests and output for responses.
 */
export type Doc = { [key: string]: unknown };

/** Media type to `{ schema, itemSchema? }`. */
export type Content = Record<string, Doc>;

export interface ResponseDoc {
  description: string;
  content?: Content;
  headers?: Record<string, string>;
}

/** A path parameter's description, with a schema when it is more than a string (documented; the service checks it). */
export type ParamDoc = string | { schema: z.ZodType; description: string };

export interface RouteSpec<
  P extends string = string,
  Q extends z.ZodObject | undefined = z.ZodObject | undefined,
  B extends z.ZodType | undefined = z.ZodType | undefined,
> {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** In OpenAPI form, `/v1/batches/{id}`. */
  path: string;
  tag: Tag;
  /**
   * What the caller's key must allow (`admin` allows everything), or `public` for the few routes
   * anyone may call (health, the reference). Checked before anything is parsed; the OpenAPI
   * document lists it as the operation's security requirement.
   */
  scope: Scope | 'public';
  summary: string;
  description?: string;
  params?: Record<P, ParamDoc>;
  /** The query string, parsed before the handler runs. */
  query?: Q;
  /** A JSON body, parsed before the handler runs. */
  body?: B;
  /**
   * What the handler reads from the request itself, documented only: bodies the service checks
   * whole (settings and items together, NDJSON line by line, with its own messages) or streams.
   */
  reads?: { query?: z.ZodObject; body?: Content };
  headers?: Record<string, string>;
  responses: Record<number, ResponseDoc>;
}

export interface RouteInput<P extends string, Q, B> {
  /** The authenticated caller; on a `public` route, NO_CALLER (no tenant: it finds nothing). */
  caller: Caller;
  /** Whether the request's key still holds (not revoked since): long-lived answers (event streams) ask as they go. */
  stillAuthorized(): Promise<boolean>;
  params: Record<P, string>;
  query: Q extends z.ZodType ? z.output<Q> : undefined;
  body: B extends z.ZodType ? z.output<B> : undefined;
  req: Request;
  res: Response;
}

/** A JSON answer with a status other than 200, or with headers; a plain return value is sent as a 200. */
export class Reply {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

/** Resolves the `Authorization` header to a caller, or throws a 401. */
export type Authenticate = (req: Request) => Promise<Caller>;

export const NO_CALLER: Caller = Object.freeze({ keyId: '', tenant: '', scopes: [] });

export interface Route {
  readonly spec: RouteSpec;
  mount(router: Router, authenticate: Authenticate): void;
}

function parsed(schema: z.ZodType | undefined, value: unknown, issues: Issue[]): unknown {
  if (!schema) return undefined;
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  issues.push(...zodIssues(r.error));
  return undefined;
}

/**
 * The handler gets typed params, query and body and returns what to send: a value (200 JSON),
 * a Reply, or nothing when it has answered itself (streams). Express 5 passes its rejections to
 * the error middleware.
 */
export function defineRoute<
  P extends string = never,
  Q extends z.ZodObject | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(spec: RouteSpec<P, Q, B>, handler: (input: RouteInput<P, Q, B>) => unknown): Route {
  const expressPath = spec.path.replace(/\{(\w+)\}/g, ':$1');
  if (spec.path.startsWith('/v1/') && spec.scope === 'public') throw new Error(`${spec.method} ${spec.path}: every /v1 route needs a key`);
  return {
    spec: spec as RouteSpec,
    mount(router, authenticate) {
      router[spec.method](expressPath, async (req, res) => {
        // An app-level guard on /v1 authenticates before the body is read (res.locals.caller); elsewhere, here.
        const caller =
          spec.scope === 'public'
            ? NO_CALLER
            : authorize((res.locals.caller as Caller | undefined) ?? (await authenticate(req)), spec.scope);
        const issues: Issue[] = nulParams(req.params);
        const query = parsed(spec.query, req.query, issues);
        const body = parsed(spec.body, req.body, issues);
        if (issues.length > 0) throw new ValidationError(issues);
        const scope = spec.scope;
        const stillAuthorized = async () =>
          scope === 'public' ||
          authenticate(req).then(
            (c) => allows(c, scope),
            () => false,
          );
        const out = await handler({ caller, stillAuthorized, params: req.params as Record<P, string>, query, body, req, res } as RouteInput<
          P,
          Q,
          B
        >);
        if (out === undefined) return;
        if (out instanceof Reply) res.status(out.status).set(out.headers).json(out.body);
        else res.json(out);
      });
    },
  };
}

/** Path parameters with a NUL character: no id holds one, and PostgreSQL refuses it in a query (a 500 before). */
function nulParams(params: Record<string, string | string[] | undefined>): Issue[] {
  return Object.entries(params)
    .filter(([, v]) => (Array.isArray(v) ? v.join('') : (v ?? '')).includes('\u0000'))
    .map(([name]) => ({ path: name, message: 'contains a NUL character (%00); no id does' }));
}

export function routerOf(routes: readonly Route[], authenticate: Authenticate): Router {
  const router = Router();
  for (const route of routes) route.mount(router, authenticate);
  return router;
}

/** A JSON response or request body. */
export const json = (schema: z.ZodType): Content => ({ 'application/json': { schema } });
