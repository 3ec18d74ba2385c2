import { z } from 'zod';
import { ItemInput, ResponseFormat } from '../domain/batch-spec.js';
import { Prices } from '../domain/pricing.js';
import * as R from '../domain/responses.js';
import type { Content, Doc, ResponseDoc, Route, RouteSpec } from './define-route.js';
import { BatchCreateRequest, CompletionRequest } from './intake/request-schemas.js';

const unauthenticated: ResponseDoc = {
  description: 'No API key, or an unknown or revoked one (`authentication_error`).',
  content: { 'application/json': { schema: R.ErrorBody } },
};
const forbidden = (scope: string): ResponseDoc => ({
  description: `The key lacks the scope \`${scope}\` (\`permission_error\`).`,
  content: { 'application/json': { schema: R.ErrorBody } },
});

/**
 * The OpenAPI 3.1 document, assembled from the routes' own declarations (define-route.ts) and
 * the zod schemas the routes parse requests with and the client checks responses with
 * (domain/responses.ts). Nothing here is written twice: a route or a field added shows up in
 * the reference, and test/e2e/openapi.test.ts checks real responses match what is listed.
 */

type Json = Record<string, unknown>;
type Io = 'input' | 'output';

// Registered on the instances the routes use, so a $ref replaces them wherever they appear.
for (const [schema, id] of [
  [ItemInput, 'Item'],
  [ResponseFormat, 'ResponseFormat'],
  [Prices, 'Prices'],
] as const) {
  if (!z.globalRegistry.has(schema)) z.globalRegistry.add(schema, { id });
}

// ---------------------------------------------------------------------------
// Zod to JSON Schema, with references into components
// ---------------------------------------------------------------------------

const REF_PREFIX = '#/components/schemas/';

/** zod's output for one schema, with `$defs` references rewritten into components. */
function jsonSchema(schema: z.ZodType, io: Io): Json {
  const id = z.globalRegistry.get(schema)?.id;
  if (id) return { $ref: REF_PREFIX + id };
  const out = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Json;
  return clean(out) as Json;
}

/** Drops zod's own bookkeeping (`$schema`, `$defs`, the `id` meta) from schemas; names under `properties` are kept. */
function clean(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(clean);
  if (typeof node !== 'object' || node === null) return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === '$schema' || k === '$defs' || k === '$id' || k === 'id') continue;
    if (k === 'properties' && typeof v === 'object' && v !== null)
      out[k] = Object.fromEntries(Object.entries(v).map(([name, p]) => [name, clean(p)]));
    else out[k] = k === '$ref' && typeof v === 'string' ? v.replace(/^#\/\$defs\//, REF_PREFIX) : clean(v);
  }
  return out;
}

/** A route's Doc with each zod schema in it replaced by its JSON Schema. */
function resolve(node: unknown, io: Io): unknown {
  if (node instanceof z.ZodType) return jsonSchema(node, io);
  if (Array.isArray(node)) return node.map((n) => resolve(n, io));
  if (typeof node !== 'object' || node === null) return node;
  return Object.fromEntries(Object.entries(node as Doc).map(([k, v]) => [k, resolve(v, io)]));
}

const RESPONSE_COMPONENTS = [
  R.BatchStatus,
  R.ResultStatus,
  R.Usage,
  R.ItemError,
  R.BatchView,
  R.ResultView,
  R.ResultPage,
  R.BatchList,
  R.BatchEstimate,
  R.Issue,
  R.ErrorBody,
  R.CompletionResponse,
  R.ValidationResponse,
  R.FileView,
  R.FileDeleted,
  R.Health,
  R.Scope,
  R.ApiKeyView,
  R.ApiKeyCreated,
  R.ApiKeyList,
  R.TenantQuotas,
  R.CachePurge,
];
const REQUEST_COMPONENTS = [BatchCreateRequest, CompletionRequest, ItemInput, ResponseFormat, Prices];

/** Responses as the server sends them (every field listed is there); requests as a caller may write them (defaults optional). */
function components(): Json {
  const byIo = (io: Io) =>
    z.toJSONSchema(z.globalRegistry, { io, unrepresentable: 'any', target: 'draft-2020-12', uri: (id) => REF_PREFIX + id }).schemas;
  const output = byIo('output');
  const input = byIo('input');
  const pick = (schemas: Record<string, unknown>, list: z.ZodType[]) =>
    Object.fromEntries(list.map((s) => z.globalRegistry.get(s)!.id!).map((id) => [id, clean(schemas[id])]));
  return { ...pick(output, RESPONSE_COMPONENTS), ...pick(input, REQUEST_COMPONENTS) };
}

// ---------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------

/** The JSON body's field descriptions, which the NDJSON form's query settings share. */
let bodyFields: Record<string, Json> | undefined;
function bodyField(name: string): Json | undefined {
  bodyFields ??= (z.toJSONSchema(BatchCreateRequest, { io: 'input', unrepresentable: 'any' }) as Json).properties as Record<string, Json>;
  return bodyFields[name];
}

/** A field that is JSON in a body goes in the query string as JSON text. */
const jsonValued = (field: Json | undefined) =>
  !!field && (field.type === 'object' || field.type === 'array' || field.$ref !== undefined || Array.isArray(field.anyOf));

/**
 * An NDJSON body's settings are the JSON body's fields, written in the query string: each says so
 * and borrows the field's description. The reference groups them apart (`x-drover-group`), so
 * they do not bury the parameters every request has.
 */
function ndjsonDescription(name: string, own: unknown): string {
  const field = bodyField(name);
  const about = typeof field?.description === 'string' ? field.description : typeof own === 'string' ? own : '';
  const form = jsonValued(field) ? ' (JSON text, URL-encoded)' : '';
  return `NDJSON bodies only: the \`${name}\` setting${form}. ${about}`.trim();
}

function parameters(spec: RouteSpec): Json[] {
  const out: Json[] = [];
  for (const [name, p] of Object.entries(spec.params ?? {})) {
    const schema = typeof p === 'string' ? { type: 'string' } : jsonSchema(p.schema, 'input');
    out.push({ name, in: 'path', required: true, description: typeof p === 'string' ? p : p.description, schema });
  }
  const ndjson = !spec.query && spec.reads?.query !== undefined;
  const query = spec.query ?? spec.reads?.query;
  for (const [name, schema] of Object.entries((query?.shape ?? {}) as Record<string, z.ZodType>)) {
    const s = jsonSchema(schema, 'input');
    const { description, ...rest } = s;
    const about = ndjson ? ndjsonDescription(name, description) : description;
    out.push({
      name,
      in: 'query',
      required: !schema.safeParse(undefined).success,
      ...(about ? { description: about } : {}),
      schema: rest,
      ...(ndjson ? { 'x-drover-group': 'ndjson' } : {}),
    });
  }
  for (const [name, description] of Object.entries(spec.headers ?? {}))
    out.push({ name, in: 'header', description, schema: { type: 'string' } });
  return out;
}

function requestBody(spec: RouteSpec): Content | undefined {
  if (spec.body) return { 'application/json': { schema: spec.body } };
  return spec.reads?.body;
}

function responseObject(r: ResponseDoc): Json {
  return {
    description: r.description,
    ...(r.headers
      ? { headers: Object.fromEntries(Object.entries(r.headers).map(([h, d]) => [h, { description: d, schema: { type: 'string' } }])) }
      : {}),
    ...(r.content ? { content: resolve(r.content, 'output') } : {}),
  };
}

function operationObject(spec: RouteSpec): Json {
  const params = parameters(spec);
  const body = requestBody(spec);
  const responses = spec.scope === 'public' ? spec.responses : { ...spec.responses, 401: unauthenticated, 403: forbidden(spec.scope) };
  return {
    operationId: `${spec.method}${spec.path.replace(/[{}]/g, '').replace(/[/._-]+(\w)/g, (_, c: string) => c.toUpperCase())}`,
    tags: [spec.tag],
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(body ? { requestBody: { required: true, content: resolve(body, 'input') } } : {}),
    // OpenAPI 3.1 lets a non-OAuth scheme list role names: the scope the key must hold.
    security: spec.scope === 'public' ? [] : [{ bearer: [spec.scope] }],
    responses: Object.fromEntries(Object.entries(responses).map(([status, r]) => [status, responseObject(r)])),
  };
}

/** The document for these routes, in their order. */
export function openApiDocument(routes: readonly Route[]): Json {
  const paths: Record<string, Json> = {};
  for (const { spec } of routes) (paths[spec.path] ??= {})[spec.method] = operationObject(spec);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Drover API',
      version: '0.1.0',
      description:
        "Run large batches of LLM requests through the providers' batch APIs or rate-limited realtime calls, with cost limits, deadlines and live control. Every error has the shape of `Error`. Every `/v1` route needs `Authorization: Bearer <key>`; a key belongs to one tenant and sees only that tenant's batches and files.",
    },
    servers: [{ url: '/' }],
    tags: [
      { name: 'Batches', description: 'Create, watch and steer batches.' },
      { name: 'Results', description: 'What came back, per item.' },
      { name: 'Completions', description: 'A few items, answered in the response.' },
      { name: 'Files', description: 'JSONL and CSV uploads for input_file_id.' },
      { name: 'Admin', description: 'API keys; an `admin` key only.' },
      { name: 'Service', description: 'Health and this reference.' },
    ],
    paths,
    security: [{ bearer: [] }],
    components: {
      schemas: components(),
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'drv_…',
          description:
            'An API key: `Authorization: Bearer drv_…`. Scopes: `batches:read` (every GET), `batches:write` (every change), `admin` (keys, and everything else).',
        },
      },
    },
  };
}
