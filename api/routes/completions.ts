import { z } from 'zod';
import { OPERATION_NAMES } from '../../domain/operations.js';
import * as R from '../../domain/responses.js';
import type { BatchService } from '../batch-service.js';
import { defineRoute, json, type Route } from '../define-route.js';
import { CompletionRequest, MAX_SYNC_ITEMS } from '../intake/request-schemas.js';
import { badInput, errorResponse, overLimit } from './docs.js';

/** The wait's upper bound is checked by the service, which answers 413 naming the way out. */
export const CompletionQuery = z.strictObject({
  timeout_seconds: z.coerce.number().int().min(1).default(120).meta({ description: 'At most 600.' }),
});

export function completionRoutes(service: BatchService): Route[] {
  return [
    defineRoute(
      {
        method: 'post',
        path: '/v1/completions/{operation}',
        tag: 'Completions',
        scope: 'batches:write',
        summary: 'Run an operation now',
        description: `Up to ${MAX_SYNC_ITEMS} items answered in the response, through a small realtime batch the API waits on. After \`timeout_seconds\` the answer is a 504 naming the batch, which goes on.`,
        params: {
          operation: { schema: z.enum(OPERATION_NAMES), description: 'classify, extract, summarize, enrich, or run (your own prompts).' },
        },
        query: CompletionQuery,
        reads: { body: json(CompletionRequest) },
        responses: {
          200: { description: 'The results, in item order.', content: json(R.CompletionResponse) },
          400: badInput,
          413: overLimit,
          504: errorResponse('The items did not finish in time; the message names the batch.'),
        },
      },
      ({ caller, params, query, req }) => service.complete(caller.tenant, params.operation, req.body, query.timeout_seconds * 1000),
    ),
  ];
}
