import type { Request } from 'express';
import { z } from 'zod';
import { MAX_USD } from '../../domain/money.js';
import * as R from '../../domain/responses.js';
import { ItemInput } from '../../domain/batch-spec.js';
import type { LimitsPatch } from '../../workflows/contracts.js';
import type { BatchService, Submitted } from '../batch-service.js';
import { defineRoute, json, Reply, type Content, type Route } from '../define-route.js';
import type { BatchRequest } from '../intake/batch-request.js';
import { decodedBody } from '../intake/limits.js';
import { BatchCreateRequest, NdjsonSettings } from '../intake/request-schemas.js';
import { badInput, batchId, ended, errorResponse, notFound, overLimit } from './docs.js';

export const ListQuery = z.strictObject({
  status: R.BatchStatus.optional().meta({ description: 'Only batches in this state.' }),
  model: z
    .string()
    .regex(/^[A-Za-z0-9._:/-]+$/, 'a model name')
    .optional()
    .meta({ description: 'Only batches of this model, as submitted.' }),
  created_after: z.iso.datetime({ offset: true }).optional().meta({ description: 'Only batches created after this time.' }),
  limit: z.coerce.number().int().min(1).max(100).default(20).meta({ description: 'Batches per page.' }),
  cursor: z
    .string()
    .max(4096)
    .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'not a cursor this list gave out: pass next_cursor as returned')
    .optional()
    .meta({ description: "The next page: the previous page's `next_cursor`, sent with the same filters." }),
});

export const LimitsBody = z
  .strictObject({
    max_cost_usd: z.number().positive().max(MAX_USD).nullable().optional(),
    deadline: z.iso.datetime({ offset: true }).nullable().optional(),
    time_limit_seconds: z.int().positive().optional(),
  })
  .refine((b) => !(b.deadline !== undefined && b.time_limit_seconds !== undefined), {
    message: 'give deadline or time_limit_seconds, not both',
    path: ['deadline'],
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'give max_cost_usd, deadline or time_limit_seconds' });

export const RejectBody = z.strictObject({ reason: z.string().max(500).optional() }).optional();

const NDJSON_TYPES = ['application/x-ndjson', 'application/jsonl', 'application/ndjson'];

/** The request by its form: NDJSON by content type, a JSON body naming `input_file_id`, else JSON items. */
function batchRequest(req: Request): BatchRequest {
  if (req.is(NDJSON_TYPES)) return { items: 'ndjson', query: req.query, stream: decodedBody(req) };
  const body: unknown = req.body;
  if (typeof body === 'object' && body !== null && 'input_file_id' in body) return { items: 'file', body: body as Record<string, unknown> };
  return { items: 'json', body };
}

function submitted(s: Submitted): Reply {
  if (s.estimate) return new Reply(200, s.estimate);
  return new Reply(s.replayed ? 200 : 202, s.batch, { Location: `/v1/batches/${s.batch.id}` });
}

/** JSON settings and items, or NDJSON items with the settings in the query string. */
const batchBody: Content = {
  ...json(BatchCreateRequest),
  'application/x-ndjson': {
    schema: { type: 'string', description: 'Settings and operation fields go in the query string (the NDJSON settings).' },
    itemSchema: ItemInput,
  },
};
const reads = { query: NdjsonSettings, body: batchBody };

export function batchRoutes(service: BatchService): Route[] {
  return [
    defineRoute(
      {
        method: 'post',
        path: '/v1/batches',
        tag: 'Batches',
        scope: 'batches:write',
        summary: 'Create a batch',
        description:
          'JSON with `items` or `input_file_id`, or NDJSON items streamed one per line with the settings in the query string. Nothing is stored when any item is invalid. `dry_run: true` answers with the estimate instead.',
        reads,
        responses: {
          202: { description: 'Created: the batch starts.', content: json(R.BatchView), headers: { Location: 'The batch URL.' } },
          200: {
            description:
              'The `idempotency_key` names a batch made from the same request (it is returned, without `webhook_secret`), or a dry run (the estimate).',
            content: { 'application/json': { schema: { oneOf: [R.BatchView, R.BatchEstimate] } } },
          },
          400: badInput,
          409: errorResponse(
            'The `idempotency_key` names a batch made from a different request (`idempotency_conflict`; the message names it).',
          ),
          413: overLimit,
        },
      },
      async ({ caller, req }) => submitted(await service.submit(caller.tenant, batchRequest(req))),
    ),
    defineRoute(
      {
        method: 'post',
        path: '/v1/batches/estimate',
        tag: 'Batches',
        scope: 'batches:write',
        summary: 'Estimate a batch',
        description: 'The chunk plan, token counts and cost range of a batch; no provider is called and nothing is stored.',
        reads,
        responses: { 200: { description: 'The estimate.', content: json(R.BatchEstimate) }, 400: badInput },
      },
      ({ caller, req }) => service.estimate(caller.tenant, batchRequest(req)),
    ),
    defineRoute(
      {
        method: 'post',
        path: '/v1/batches/validate',
        tag: 'Batches',
        scope: 'batches:write',
        summary: 'Validate a batch',
        description: 'Every problem of a body or file, with its line; always a 200, nothing created.',
        reads,
        responses: { 200: { description: 'Valid, or the list of problems.', content: json(R.ValidationResponse) } },
      },
      ({ caller, req }) => service.validate(caller.tenant, batchRequest(req)),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/batches',
        tag: 'Batches',
        scope: 'batches:read',
        summary: 'List batches',
        description: 'Newest first, through Temporal visibility; follow `next_cursor`.',
        query: ListQuery,
        responses: { 200: { description: 'A page of batches.', content: json(R.BatchList) }, 400: badInput },
      },
      ({ caller, query }) => service.list(caller.tenant, query),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/batches/{id}',
        tag: 'Batches',
        scope: 'batches:read',
        summary: 'Get a batch',
        description: 'Live from the workflow while it runs (counts, cost, chunks, ETA); from the store once it has ended.',
        params: { id: batchId },
        responses: { 200: { description: 'The batch.', content: json(R.BatchView) }, 404: notFound },
      },
      ({ caller, params }) => service.get(caller.tenant, params.id),
    ),
    defineRoute(
      {
        method: 'patch',
        path: '/v1/batches/{id}/limits',
        tag: 'Batches',
        scope: 'batches:write',
        summary: 'Change limits',
        description:
          'Raise, lower or remove `max_cost_usd` and the deadline of a running batch. A limit below what is spent, or a deadline in the past, is refused.',
        params: { id: batchId },
        body: LimitsBody,
        responses: {
          200: { description: 'The batch with its new limits.', content: json(R.BatchView) },
          400: badInput,
          404: notFound,
          409: ended,
        },
      },
      ({ caller, params, body }) => {
        const patch: LimitsPatch = {};
        if (body.max_cost_usd !== undefined) patch.maxCostUsd = body.max_cost_usd;
        if (body.deadline !== undefined) patch.deadlineMs = body.deadline === null ? null : Date.parse(body.deadline);
        if (body.time_limit_seconds !== undefined) patch.deadlineMs = Date.now() + body.time_limit_seconds * 1000;
        return service.setLimits(caller.tenant, params.id, patch);
      },
    ),
    ...(['cancel', 'pause', 'resume'] as const).map((verb) =>
      defineRoute(
        {
          method: 'post',
          path: `/v1/batches/{id}/${verb}`,
          tag: 'Batches',
          scope: 'batches:write',
          summary: `${verb[0]!.toUpperCase()}${verb.slice(1)} a batch`,
          description: {
            cancel: 'Cancels running provider batches, keeps their partial results and closes the rest as `cancelled`.',
            pause: 'No new chunk starts; running ones finish.',
            resume: 'Chunks start again.',
          }[verb],
          params: { id: batchId },
          responses: {
            [verb === 'cancel' ? 202 : 200]: { description: 'The batch after the change.', content: json(R.BatchView) },
            404: notFound,
            409: ended,
          },
        },
        async ({ caller, params }) =>
          verb === 'cancel' ? new Reply(202, await service.cancel(caller.tenant, params.id)) : service[verb](caller.tenant, params.id),
      ),
    ),
    defineRoute(
      {
        method: 'post',
        path: '/v1/batches/{id}/approve',
        tag: 'Batches',
        scope: 'batches:write',
        summary: 'Approve after the sample',
        description: 'Sample first: the batch awaiting approval runs the rest of its items; the sample counts toward it.',
        params: { id: batchId },
        responses: {
          200: { description: 'The batch after the decision.', content: json(R.BatchView) },
          404: notFound,
          409: errorResponse('The batch is not awaiting approval (`not_awaiting_approval`), or has ended.'),
        },
      },
      ({ caller, params }) => service.approve(caller.tenant, params.id),
    ),
    defineRoute(
      {
        method: 'post',
        path: '/v1/batches/{id}/reject',
        tag: 'Batches',
        scope: 'batches:write',
        summary: 'Reject after the sample',
        description: 'Sample first: the batch ends `failed` with the reason; only the sample was sent and paid for.',
        params: { id: batchId },
        body: RejectBody,
        responses: {
          200: { description: 'The batch after the decision.', content: json(R.BatchView) },
          400: badInput,
          404: notFound,
          409: errorResponse('The batch is not awaiting approval (`not_awaiting_approval`), or has ended.'),
        },
      },
      ({ caller, params, body }) => service.reject(caller.tenant, params.id, body?.reason),
    ),
  ];
}
