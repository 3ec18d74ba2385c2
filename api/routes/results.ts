import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Response } from 'express';
import { z } from 'zod';
import * as R from '../../domain/responses.js';
import type { ResultRow } from '../../store/rows.js';
import type { BatchService } from '../batch-service.js';
import { defineRoute, json, type Route } from '../define-route.js';
import { csvHeader, csvRow, resultView, type ExportShape } from '../views.js';
import { badInput, batchId, errorResponse, notFound } from './docs.js';

const statusFilter = R.ResultStatus.optional().meta({ description: 'Only the rows in this state.' });

export const ResultsQuery = z.strictObject({
  format: z
    .enum(['json', 'jsonl', 'csv'])
    .default('json')
    .meta({ description: '`json`: one page of rows; `jsonl` and `csv`: every matching row, streamed.' }),
  status: statusFilter,
  offset: z.coerce.number().int().min(0).default(0).meta({ description: 'json: rows to skip.' }),
  limit: z.coerce.number().int().min(1).max(1000).default(100).meta({ description: 'json: rows per page.' }),
  sample: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional()
    .describe('true: only the items of the sample (sample first), JSON pages only.'),
});

export const DownloadQuery = z.strictObject({
  format: z
    .enum(['jsonl', 'csv'])
    .default('csv')
    .meta({ description: 'The file type; CSV flattens a JSON output into one column per field.' }),
  status: statusFilter,
});

/** Encoded rows are sent in pieces of about this many characters: one socket write per row cost more than encoding it. */
const EXPORT_PIECE = 64 * 1024;

/**
 * Streams with backpressure (a million-row export must not buffer in the socket). pipeline also
 * stops reading the store when the client goes away, and on a failure mid-export destroys the
 * response, so a cut-off export never looks complete.
 */
async function streamRows(res: Response, rows: AsyncIterable<ResultRow>, encode: (r: ResultRow) => string, head = ''): Promise<void> {
  async function* pieces() {
    let piece = head;
    for await (const row of rows) {
      piece += encode(row);
      if (piece.length >= EXPORT_PIECE) {
        yield piece;
        piece = '';
      }
    }
    if (piece) yield piece;
  }
  await pipeline(Readable.from(pieces()), res);
}

/** JSONL rows as the JSON page shows them; CSV with JSON outputs flattened into columns. */
async function sendExport(
  res: Response,
  format: 'jsonl' | 'csv',
  rows: AsyncIterable<ResultRow>,
  { outputColumns, synthetic }: ExportShape,
): Promise<void> {
  if (format === 'jsonl') {
    res.type('application/x-ndjson');
    await streamRows(res, rows, (r) => JSON.stringify(resultView(r, synthetic)) + '\n');
    return;
  }
  res.type('text/csv; charset=utf-8');
  await streamRows(res, rows, (r) => csvRow(r, outputColumns, synthetic), csvHeader(outputColumns, synthetic));
}

export function resultRoutes(service: BatchService): Route[] {
  return [
    defineRoute(
      {
        method: 'get',
        path: '/v1/batches/{id}/results',
        tag: 'Results',
        scope: 'batches:read',
        summary: 'Results',
        description:
          'A JSON page, or the whole export streamed as JSONL (one Result per line) or CSV (JSON outputs flattened into `output.<field>` columns).',
        params: { id: batchId },
        query: ResultsQuery,
        responses: {
          200: {
            description: 'Results in item order.',
            content: {
              ...json(R.ResultPage),
              'application/x-ndjson': { schema: { type: 'string' }, itemSchema: R.ResultView },
              'text/csv': { schema: { type: 'string' } },
            },
          },
          400: badInput,
          404: notFound,
        },
      },
      async ({ caller: { tenant }, params, query, res }) => {
        if (query.format === 'json' || query.sample) return service.results(tenant, params.id, query);
        const rows = await service.streamResults(tenant, params.id, query.status);
        await sendExport(res, query.format, rows, await service.exportShape(tenant, params.id));
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/batches/{id}/results/download',
        tag: 'Results',
        scope: 'batches:read',
        summary: 'Download results',
        description: 'The whole export as a file named `<batch>[-<status>]-results.<format>`.',
        params: { id: batchId },
        query: DownloadQuery,
        responses: {
          200: {
            description: 'The file.',
            headers: { 'Content-Disposition': 'attachment; filename=…' },
            content: {
              'text/csv': { schema: { type: 'string' } },
              'application/x-ndjson': { schema: { type: 'string' }, itemSchema: R.ResultView },
            },
          },
          400: badInput,
          404: notFound,
        },
      },
      async ({ caller: { tenant }, params, query, res }) => {
        const rows = await service.streamResults(tenant, params.id, query.status);
        res.attachment(`${params.id}${query.status ? `-${query.status}` : ''}-results.${query.format}`);
        await sendExport(res, query.format, rows, await service.exportShape(tenant, params.id));
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/batches/{id}/items/{item_id}',
        tag: 'Results',
        scope: 'batches:read',
        summary: "One item's result",
        params: { id: batchId, item_id: 'The id the item was sent with.' },
        responses: { 200: { description: 'The result.', content: json(R.ResultView) }, 404: errorResponse('No such batch or item.') },
      },
      ({ caller: { tenant }, params }) => service.item(tenant, params.id, params.item_id),
    ),
  ];
}
