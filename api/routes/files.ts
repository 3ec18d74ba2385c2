import { z } from 'zod';
import * as R from '../../domain/responses.js';
import { defineRoute, json, Reply, type Route } from '../define-route.js';
import type { FileService } from '../file-service.js';
import { readUpload } from '../intake/read-upload.js';
import { badInput, errorResponse } from './docs.js';

export const UploadQuery = z.strictObject({
  filename: z.string().min(1).max(255).optional().meta({ description: 'Defaults to the multipart file name, else upload.<format>.' }),
  format: z.enum(['jsonl', 'csv']).optional().meta({ description: 'Defaults from the content type, else the file name.' }),
  expires_after_seconds: z.coerce.number().int().min(60).optional().meta({
    description:
      'Expire the file sooner than the deployment does (DROVER_FILE_TTL_SECONDS, 7 days unless set); a longer value is cut to it. `drover validate` and `estimate` ask for 3600.',
  }),
});

/** Files streamed into the store; `POST /v1/batches` then takes `input_file_id` instead of `items`. */
export function fileRoutes(service: FileService): Route[] {
  return [
    defineRoute(
      {
        method: 'post',
        path: '/v1/files',
        tag: 'Files',
        scope: 'batches:write',
        summary: 'Upload a JSONL or CSV file',
        description:
          'Streamed into the store, never held whole: as the multipart field `file` (`curl -F file=@items.csv`), or as the raw body. CSV columns become item fields (an `id` column is required; `metadata.x` columns go into metadata).',
        query: UploadQuery,
        reads: {
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
        },
        responses: { 201: { description: 'Stored.', content: json(R.FileView) }, 400: badInput },
      },
      async ({ caller, query, req }) =>
        new Reply(201, await service.upload(caller.tenant, await readUpload(req, query), query.expires_after_seconds)),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/files/{id}',
        tag: 'Files',
        scope: 'batches:read',
        summary: 'Get a file',
        params: { id: 'The file id (`file_…`).' },
        responses: { 200: { description: 'The file.', content: json(R.FileView) }, 404: errorResponse('No such file.') },
      },
      ({ caller, params }) => service.get(caller.tenant, params.id),
    ),
    defineRoute(
      {
        method: 'delete',
        path: '/v1/files/{id}',
        tag: 'Files',
        scope: 'batches:write',
        summary: 'Delete a file',
        description:
          'Removes the file and its lines now, rather than at `expires_at`. Batches made from it are not touched: each has its own copy of the items. A submit still reading the file makes this a 409; send it again once that submit has answered.',
        params: { id: 'The file id (`file_…`).' },
        responses: {
          200: { description: 'Deleted.', content: json(R.FileDeleted) },
          404: errorResponse('No such file (or it expired, or belongs to another tenant).'),
          409: errorResponse('A batch submit is reading the file right now.'),
        },
      },
      ({ caller, params }) => service.delete(caller.tenant, params.id),
    ),
  ];
}
