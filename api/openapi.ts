import { z } from 'zod';
import { BatchSettings, BatchSettingsQuery, ItemInput, ResponseFormat } from '../domain/batch-spec.js';
import { ClassifyOperation, EnrichOperation, ExtractOperation, OPERATION_NAMES, SummarizeOperation } from '../domain/operations.js';
import { Prices } from '../domain/pricing.js';
import * as R from '../domain/responses.js';
import { MAX_SYNC_ITEMS } from './batch-service.js';
import { CompletionQuery, DownloadQuery, LimitsBody, ListQuery, ResultsQuery } from './routes/batches.js';
import { UploadQuery } from './routes/files.js';

/**
 * The OpenAPI 3.1 document, built from the same zod schemas the routes parse requests with and
 * the client checks responses with (domain/responses.ts). Nothing here is written twice: a
 * field added to a schema shows up in the reference, and test/e2e/openapi.test.ts checks every
 * Express route is listed and real responses match what is listed.
 */

type Json = Record<string, unknown>;
type Io = 'input' | 'output';

// ---------------------------------------------------------------------------
// Request components: the request schemas under stable names.
// ---------------------------------------------------------------------------

// Registered on the instances the routes use, so a $ref replaces them wherever they appear.
for (const [schema, id] of [
  [ItemInput, 'Item'],
  [ResponseFormat, 'ResponseFormat'],
  [Prices, 'Prices'],
] as const) {
  if (!z.globalRegistry.has(schema)) z.globalRegistry.add(schema, { id });
}

/** An operation's own fields, all optional: in the one flat body each belongs to one operation only. */
const omitOperation = (shape: z.ZodRawShape): Record<string, z.ZodType> => {
  const { operation: _, ...rest } = shape;
  return Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, v instanceof z.ZodOptional ? v : (v as z.ZodType).optional()]));
};

const OperationFields = {
  operation: z
    .enum(OPERATION_NAMES)
    .optional()
    .meta({ description: 'A ready-made operation; it writes system_prompt, user_prompt_template and response_format itself (run: give your own).' }),
  ...omitOperation(ClassifyOperation.shape),
  ...omitOperation(ExtractOperation.shape),
  ...omitOperation(SummarizeOperation.shape),
  ...omitOperation(EnrichOperation.shape),
};

const BatchCreateRequest = BatchSettings.extend({
  items: z.array(ItemInput).min(1).optional().meta({ description: 'The items; or give input_file_id.' }),
  input_file_id: z.string().optional().meta({ description: 'An uploaded file (POST /v1/files) instead of items.' }),
  ...OperationFields,
}).meta({
  id: 'BatchCreateRequest',
  description:
    'A batch: settings, then items or input_file_id. Operation fields: categories, multi_label, instructions (classify); extraction_instructions, schema (extract); summary_instructions, max_words (summarize); fields (enrich).',
});

const CompletionRequest = BatchSettings.omit({ dry_run: true, mode: true, idempotency_key: true, chunk_size: true, max_parallel_chunks: true, webhook_url: true })
  .extend({
    items: z
      .array(ItemInput.extend({ id: ItemInput.shape.id.optional() }))
      .min(1)
      .max(MAX_SYNC_ITEMS)
      .meta({ description: `1 to ${MAX_SYNC_ITEMS} items; an item without an id gets its position ("0", "1", …).` }),
    ...omitOperation(OperationFields),
  })
  .meta({ id: 'CompletionRequest' });

/** The settings of an NDJSON body, in the query string; a JSON body carries them itself, so none is required here. */
const NdjsonSettings = BatchSettingsQuery.partial().extend(
  Object.fromEntries(Object.keys(OperationFields).map((k) => [k, z.string().optional().meta({ description: 'Operation field; arrays and objects as JSON text.' })])),
);

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
    if (k === 'properties' && typeof v === 'object' && v !== null) out[k] = Object.fromEntries(Object.entries(v).map(([name, p]) => [name, clean(p)]));
    else out[k] = k === '$ref' && typeof v === 'string' ? v.replace(/^#\/\$defs\//, REF_PREFIX) : clean(v);
  }
  return out;
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
  R.Health,
];
const REQUEST_COMPONENTS = [BatchCreateRequest, CompletionRequest, ItemInput, ResponseFormat, Prices];

/** Responses as the server sends them (every field listed is there); requests as a caller may write them (defaults optional). */
function components(): Json {
  const byIo = (io: Io) => z.toJSONSchema(z.globalRegistry, { io, unrepresentable: 'any', target: 'draft-2020-12', uri: (id) => REF_PREFIX + id }).schemas;
  const output = byIo('output');
  const input = byIo('input');
  const pick = (schemas: Record<string, unknown>, list: z.ZodType[]) =>
    Object.fromEntries(list.map((s) => z.globalRegistry.get(s)!.id!).map((id) => [id, clean(schemas[id])]));
  return { ...pick(output, RESPONSE_COMPONENTS), ...pick(input, REQUEST_COMPONENTS) };
}

// ---------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------

interface Operation {
  method: 'get' | 'post' | 'patch';
  path: string;
  tag: 'Batches' | 'Results' | 'Completions' | 'Files' | 'Service';
  summary: string;
  description?: string;
  params?: Record<string, string | { schema: z.ZodType; description: string }>;
  query?: z.ZodObject;
  headers?: Record<string, string>;
  body?: Record<string, Json>;
  responses: Record<number, { description: string; content?: Record<string, Json>; headers?: Record<string, string> }>;
}

const json = (schema: z.ZodType, io: Io = 'output') => ({ 'application/json': { schema: jsonSchema(schema, io) } });
const ref = (schema: z.ZodType) => ({ $ref: REF_PREFIX + z.globalRegistry.get(schema)!.id! });
const error = (description: string) => ({ description, content: json(R.ErrorBody) });
const ndjsonItems = {
  'application/x-ndjson': {
    schema: { type: 'string', description: 'One Item (JSON) per line; settings and operation fields go in the query string.' },
    itemSchema: ref(ItemInput),
  },
};
const batchBody = { ...json(BatchCreateRequest, 'input'), ...ndjsonItems };
const badInput = error('The request has problems: each issue names its field (`path`) and, for NDJSON and files, its `line`.');
const notFound = error('No such batch.');
const ended = error('The batch has ended: it can no longer change.');
const batchId = 'The batch id (`batch_…`).';

const OPERATIONS: Operation[] = [
  {
    method: 'post',
    path: '/v1/batches',
    tag: 'Batches',
    summary: 'Create a batch',
    description:
      'JSON with `items` or `input_file_id`, or NDJSON items streamed one per line with the settings in the query string. Nothing is stored when any item is invalid. `dry_run: true` answers with the estimate instead.',
    query: NdjsonSettings,
    body: batchBody,
    responses: {
      202: { description: 'Created: the batch starts.', content: json(R.BatchView), headers: { Location: 'The batch URL.' } },
      200: {
        description: 'The `idempotency_key` names a batch that exists (it is returned), or a dry run (the estimate).',
        content: { 'application/json': { schema: { oneOf: [ref(R.BatchView), ref(R.BatchEstimate)] } } },
      },
      400: badInput,
    },
  },
  {
    method: 'post',
    path: '/v1/batches/estimate',
    tag: 'Batches',
    summary: 'Estimate a batch',
    description: 'The chunk plan, token counts and cost range of a batch; no provider is called and nothing is stored.',
    query: NdjsonSettings,
    body: batchBody,
    responses: { 200: { description: 'The estimate.', content: json(R.BatchEstimate) }, 400: badInput },
  },
  {
    method: 'post',
    path: '/v1/batches/validate',
    tag: 'Batches',
    summary: 'Validate a batch',
    description: 'Every problem of a body or file, with its line; always a 200, nothing created.',
    query: NdjsonSettings,
    body: batchBody,
    responses: { 200: { description: 'Valid, or the list of problems.', content: json(R.ValidationResponse) } },
  },
  {
    method: 'get',
    path: '/v1/batches',
    tag: 'Batches',
    summary: 'List batches',
    description: 'Newest first, through Temporal visibility; follow `next_cursor`.',
    query: ListQuery,
    responses: { 200: { description: 'A page of batches.', content: json(R.BatchList) }, 400: badInput },
  },
  {
    method: 'get',
    path: '/v1/batches/{id}',
    tag: 'Batches',
    summary: 'Get a batch',
    description: 'Live from the workflow while it runs (counts, cost, chunks, ETA); from the store once it has ended.',
    params: { id: batchId },
    responses: { 200: { description: 'The batch.', content: json(R.BatchView) }, 404: notFound },
  },
  {
    method: 'patch',
    path: '/v1/batches/{id}/limits',
    tag: 'Batches',
    summary: 'Change limits',
    description: 'Raise, lower or remove `max_cost_usd` and the deadline of a running batch. A limit below what is spent, or a deadline in the past, is refused.',
    params: { id: batchId },
    body: json(LimitsBody, 'input'),
    responses: { 200: { description: 'The batch with its new limits.', content: json(R.BatchView) }, 400: badInput, 404: notFound, 409: ended },
  },
  ...(['cancel', 'pause', 'resume'] as const).map(
    (verb): Operation => ({
      method: 'post',
      path: `/v1/batches/{id}/${verb}`,
      tag: 'Batches',
      summary: `${verb[0]!.toUpperCase()}${verb.slice(1)} a batch`,
      description: {
        cancel: 'Cancels running provider batches, keeps their partial results and closes the rest as `cancelled`.',
        pause: 'No new chunk starts; running ones finish.',
        resume: 'Chunks start again.',
      }[verb],
      params: { id: batchId },
      responses: { [verb === 'cancel' ? 202 : 200]: { description: 'The batch after the change.', content: json(R.BatchView) }, 404: notFound, 409: ended },
    }),
  ),
  {
    method: 'get',
    path: '/v1/batches/{id}/results',
    tag: 'Results',
    summary: 'Results',
    description: 'A JSON page, or the whole export streamed as JSONL (one Result per line) or CSV (JSON outputs flattened into `output.<field>` columns).',
    params: { id: batchId },
    query: ResultsQuery,
    responses: {
      200: {
        description: 'Results in item order.',
        content: { ...json(R.ResultPage), 'application/x-ndjson': { schema: { type: 'string' }, itemSchema: ref(R.ResultView) }, 'text/csv': { schema: { type: 'string' } } },
      },
      400: badInput,
      404: notFound,
    },
  },
  {
    method: 'get',
    path: '/v1/batches/{id}/results/download',
    tag: 'Results',
    summary: 'Download results',
    description: 'The whole export as a file named `<batch>[-<status>]-results.<format>`.',
    params: { id: batchId },
    query: DownloadQuery,
    responses: {
      200: {
        description: 'The file.',
        headers: { 'Content-Disposition': 'attachment; filename=…' },
        content: { 'text/csv': { schema: { type: 'string' } }, 'application/x-ndjson': { schema: { type: 'string' }, itemSchema: ref(R.ResultView) } },
      },
      400: badInput,
      404: notFound,
    },
  },
  {
    method: 'get',
    path: '/v1/batches/{id}/items/{item_id}',
    tag: 'Results',
    summary: "One item's result",
    params: { id: batchId, item_id: 'The id the item was sent with.' },
    responses: { 200: { description: 'The result.', content: json(R.ResultView) }, 404: error('No such batch or item.') },
  },
  {
    method: 'get',
    path: '/v1/batches/{id}/events',
    tag: 'Results',
    summary: 'Follow a batch (Server-Sent Events)',
    description:
      'Events: `progress` (the Batch, about once a second), `item` (`{id, status}` as each item finishes; its SSE id resumes the stream), `done` (the final Batch). Reconnect with `Last-Event-ID` to miss none and see none twice.',
    params: { id: batchId },
    headers: { 'Last-Event-ID': 'The id of the last `item` event seen.' },
    responses: { 200: { description: 'An event stream.', content: { 'text/event-stream': { schema: { type: 'string' } } } }, 404: notFound },
  },
  {
    method: 'post',
    path: '/v1/completions/{operation}',
    tag: 'Completions',
    summary: 'Run an operation now',
    description: `Up to ${MAX_SYNC_ITEMS} items answered in the response, through a small realtime batch the API waits on. After \`timeout_seconds\` the answer is a 504 naming the batch, which goes on.`,
    params: { operation: { schema: z.enum(OPERATION_NAMES), description: 'classify, extract, summarize, enrich, or run (your own prompts).' } },
    query: CompletionQuery,
    body: json(CompletionRequest, 'input'),
    responses: {
      200: { description: 'The results, in item order.', content: json(R.CompletionResponse) },
      400: badInput,
      504: error('The items did not finish in time; the message names the batch.'),
    },
  },
  {
    method: 'post',
    path: '/v1/files',
    tag: 'Files',
    summary: 'Upload a JSONL or CSV file',
    description:
      'Streamed into the store, never held whole: as the multipart field `file` (`curl -F file=@items.csv`), or as the raw body. CSV columns become item fields (an `id` column is required; `metadata.x` columns go into metadata).',
    query: UploadQuery,
    body: {
      'multipart/form-data': {
        schema: {
          type: 'object',
          required: ['file'],
          properties: {
            file: { type: 'string', contentMediaType: 'application/octet-stream' },
            format: { type: 'string', enum: ['jsonl', 'csv'] },
            filename: { type: 'string' },
          },
        },
      },
      'application/x-ndjson': { schema: { type: 'string' } },
      'text/csv': { schema: { type: 'string' } },
    },
    responses: { 201: { description: 'Stored.', content: json(R.FileView) }, 400: badInput },
  },
  {
    method: 'get',
    path: '/v1/files/{id}',
    tag: 'Files',
    summary: 'Get a file',
    params: { id: 'The file id (`file_…`).' },
    responses: { 200: { description: 'The file.', content: json(R.FileView) }, 404: error('No such file.') },
  },
  {
    method: 'get',
    path: '/healthz',
    tag: 'Service',
    summary: 'Health',
    responses: { 200: { description: 'The API is up.', content: json(R.Health) } },
  },
  {
    method: 'get',
    path: '/openapi.json',
    tag: 'Service',
    summary: 'This document',
    responses: { 200: { description: 'OpenAPI 3.1.', content: { 'application/json': { schema: { type: 'object' } } } } },
  },
  {
    method: 'get',
    path: '/docs',
    tag: 'Service',
    summary: 'The API reference, as a page',
    responses: { 200: { description: 'HTML.', content: { 'text/html': { schema: { type: 'string' } } } } },
  },
];

function parameters(op: Operation): Json[] {
  const out: Json[] = [];
  for (const [name, p] of Object.entries(op.params ?? {})) {
    const schema = typeof p === 'string' ? { type: 'string' } : jsonSchema(p.schema, 'input');
    out.push({ name, in: 'path', required: true, description: typeof p === 'string' ? p : p.description, schema });
  }
  for (const [name, schema] of Object.entries((op.query?.shape ?? {}) as Record<string, z.ZodType>)) {
    const s = jsonSchema(schema, 'input');
    const { description, ...rest } = s;
    out.push({ name, in: 'query', required: !schema.safeParse(undefined).success, ...(description ? { description } : {}), schema: rest });
  }
  for (const [name, description] of Object.entries(op.headers ?? {})) out.push({ name, in: 'header', description, schema: { type: 'string' } });
  return out;
}

function operationObject(op: Operation): Json {
  const responses = Object.fromEntries(
    Object.entries(op.responses).map(([status, r]) => [
      status,
      {
        description: r.description,
        ...(r.headers ? { headers: Object.fromEntries(Object.entries(r.headers).map(([h, d]) => [h, { description: d, schema: { type: 'string' } }])) } : {}),
        ...(r.content ? { content: r.content } : {}),
      },
    ]),
  );
  const params = parameters(op);
  return {
    operationId: `${op.method}${op.path.replace(/[{}]/g, '').replace(/[/._-]+(\w)/g, (_, c: string) => c.toUpperCase())}`,
    tags: [op.tag],
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(op.body ? { requestBody: { required: true, content: op.body } } : {}),
    responses,
  };
}

let built: Json | undefined;

/** The document; built once (the schemas do not change while the process runs). */
export function openApiDocument(): Json {
  if (built) return built;
  const paths: Record<string, Json> = {};
  for (const op of OPERATIONS) (paths[op.path] ??= {})[op.method] = operationObject(op);
  built = {
    openapi: '3.1.0',
    info: {
      title: 'Drover API',
      version: '0.1.0',
      description:
        "Run large batches of LLM requests through the providers' batch APIs or rate-limited realtime calls, with cost limits, deadlines and live control. Every error has the shape of `Error`.",
    },
    servers: [{ url: '/' }],
    tags: [
      { name: 'Batches', description: 'Create, watch and steer batches.' },
      { name: 'Results', description: 'What came back, per item.' },
      { name: 'Completions', description: 'A few items, answered in the response.' },
      { name: 'Files', description: 'JSONL and CSV uploads for input_file_id.' },
      { name: 'Service', description: 'Health and this reference.' },
    ],
    paths,
    components: { schemas: components() },
  };
  return built;
}
