import { once } from 'node:events';
import { Router, type Response } from 'express';
import { z } from 'zod';
import { zodIssues } from '../../domain/issues.js';
import { DEFAULT_TENANT } from '../../domain/tenant.js';
import { ResultStatus, type ResultRow } from '../../store/rows.js';
import { draftFromQuery } from '../batch-intake.js';
import type { BatchService, Submitted } from '../batch-service.js';
import { ValidationError } from '../errors.js';
import { CSV_COLUMNS, csvRow, resultView } from '../views.js';

const ResultsQuery = z.strictObject({
  format: z.enum(['json', 'jsonl', 'csv']).default('json'),
  status: ResultStatus.optional(),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw new ValidationError(zodIssues(r.error));
  return r.data;
}

const NDJSON_TYPES = ['application/x-ndjson', 'application/jsonl', 'application/ndjson'];

function sendSubmitted(res: Response, s: Submitted): void {
  res.status(s.replayed ? 200 : 202).set('Location', `/v1/batches/${s.batch.id}`).json(s.batch);
}

/** Writes with backpressure: a million-row export must not buffer in the socket. */
async function streamRows(res: Response, rows: AsyncIterable<ResultRow>, encode: (r: ResultRow) => string): Promise<void> {
  for await (const row of rows) {
    if (!res.write(encode(row))) await once(res, 'drain');
  }
  res.end();
}

export function batchesRouter(service: BatchService): Router {
  const router = Router();
  // Until API keys exist every caller is the default tenant; routes already pass it through.
  const tenant = DEFAULT_TENANT;

  router.post('/v1/batches', async (req, res) => {
    if (req.is(NDJSON_TYPES)) {
      sendSubmitted(res, await service.submitNdjson(tenant, draftFromQuery(req.query), req));
      return;
    }
    sendSubmitted(res, await service.submitJson(tenant, req.body));
  });

  router.get('/v1/batches/:id', async (req, res) => {
    res.json(await service.get(tenant, req.params.id));
  });

  router.get('/v1/batches/:id/results', async (req, res) => {
    const q = parse(ResultsQuery, req.query);
    if (q.format === 'json') {
      const page = await service.results(tenant, req.params.id, q);
      res.json({ object: 'list', data: page.rows.map(resultView), offset: q.offset, limit: q.limit, total: page.total });
      return;
    }
    const rows = await service.streamResults(tenant, req.params.id, q.status);
    if (q.format === 'jsonl') {
      res.type('application/x-ndjson');
      await streamRows(res, rows, (r) => JSON.stringify(resultView(r)) + '\n');
      return;
    }
    res.type('text/csv; charset=utf-8');
    res.write(CSV_COLUMNS.join(',') + '\r\n');
    await streamRows(res, rows, csvRow);
  });

  router.get('/v1/batches/:id/items/:itemId', async (req, res) => {
    res.json(resultView(await service.item(tenant, req.params.id, req.params.itemId)));
  });

  return router;
}
