import { z } from 'zod';
import * as R from '../../domain/responses.js';
import { defineRoute, json, Reply, type Route } from '../define-route.js';
import type { FileService } from '../file-service.js';
import { readUpload } from '../intake/read-upload.js';
import { badInput, errorResponse } from './docs.js';

export const UploadQuery = z.strictObject({
  filename: z.string().min(1).max(255).optional().meta({ description: 'Defaults to the multipart file name, else upload.<format>.' }),
  format: z.enum(['jsonl', 'csv']).optional().meta({ description: 'Defaults from the content type, else the file name.' }),
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
      async ({ caller, query, req }) => new Reply(201, await service.upload(caller.tenant, await readUpload(req, query))),
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
  ];
}
