import * as R from '../../domain/responses.js';
import { json, type ResponseDoc } from '../define-route.js';

/** Response descriptions several routes share. */

export const errorResponse = (description: string): ResponseDoc => ({ description, content: json(R.ErrorBody) });
export const badInput = errorResponse(
  'The request has problems: each issue names its field (`path`) and, for NDJSON and files, its `line`.',
);
export const notFound = errorResponse('No such batch.');
export const ended = errorResponse('The batch has ended: it can no longer change.');
export const batchId = 'The batch id (`batch_…`).';
export const overLimit = errorResponse(
  'Over a limit of this deployment (`limit_exceeded` or `body_too_large`): the message names the limit and the way around it (NDJSON, `POST /v1/files`, smaller batches).',
);
