import { RerunRequest } from '../../domain/batch-spec.js';
import * as R from '../../domain/responses.js';
import type { BatchService } from '../batch-service.js';
import { defineRoute, json, Reply, type Route } from '../define-route.js';
import { badInput, batchId, errorResponse, notFound } from './docs.js';

/** Running an ended batch's failed (or chosen) items again, as a new batch linked to the old. */
export function rerunRoutes(service: BatchService): Route[] {
  return [
    defineRoute(
      {
        method: 'post',
        path: '/v1/batches/{id}/rerun',
        tag: 'Batches',
        scope: 'batches:write',
        summary: 'Rerun items of a batch',
        description:
          'A new batch of the ended batch\'s items with the given outcomes (`status`, default `["failed"]`), with the same settings unless the body gives others (`model`, `mode`, `max_attempts`, …). The items are copied inside the store. The new batch names the old in `rerun_of`; the old lists it in `reruns`.',
        params: { id: batchId },
        body: RerunRequest,
        responses: {
          202: { description: 'Created: the new batch starts.', content: json(R.BatchView), headers: { Location: 'The new batch URL.' } },
          200: { description: 'The `idempotency_key` names a batch already made.', content: json(R.BatchView) },
          400: badInput,
          404: notFound,
          409: errorResponse(
            'The batch has not ended (`batch_not_ended`), or none of its items has the outcomes asked for (`nothing_to_rerun`).',
          ),
        },
      },
      async ({ caller, params, body }) => {
        const s = await service.rerun(caller.tenant, params.id, body);
        if (!s.batch) throw new Error('a rerun always makes a batch');
        return new Reply(s.replayed ? 200 : 202, s.batch, { Location: `/v1/batches/${s.batch.id}` });
      },
    ),
  ];
}
