import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Router, type Response } from 'express';
import { z } from 'zod';
import { zodIssues } from '../../domain/issues.js';
import { DEFAULT_TENANT } from '../../domain/tenant.js';
import { BatchStatus, ResultStatus } from '../../domain/responses.js';
import type { ResultRow } from '../../store/rows.js';
import { draftFromQuery, type IntakeContext } from '../batch-intake.js';
import type { LimitsPatch } from '../../workflows/contracts.js';
import type { BatchService, Submitted } from '../batch-service.js';
import { ValidationError } from '../errors.js';
import { csvHeader, csvRow, resultView } from '../views.js';

export const ResultsQuery = z.strictObject({
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

export const CompletionQuery = z.strictObject({ timeout_seconds: z.coerce.number().int().min(1).max(600).default(120) });

export const DownloadQuery = z.strictObject({ format: z.enum(['jsonl', 'csv']).default('csv'), status: ResultStatus.optional() });

/** JSONL rows as the JSON page shows them; CSV with JSON outputs flattened into columns. */
async function sendExport(res: Response, format: 'jsonl' | 'csv', rows: AsyncIterable<ResultRow>, outputColumns: string[] | null): Promise<void> {
  if (format === 'jsonl') {
    res.type('application/x-ndjson');
    await streamRows(res, rows, (r) => JSON.stringify(resultView(r)) + '\n');
    return;
  }
  res.type('text/csv; charset=utf-8');
  await streamRows(res, rows, (r) => csvRow(r, outputColumns), csvHeader(outputColumns));
}

/** A JSON body naming an uploaded file instead of listing items. */
function hasFile(body: unknown): body is Record<string, unknown> {
  return typeof body === 'object' && body !== null && 'input_file_id' in body;
}

const NDJSON_TYPES = ['application/x-ndjson', 'application/jsonl', 'application/ndjson'];

function sendSubmitted(res: Response, s: Submitted): void {
  if (s.estimate) {
    res.status(200).json(s.estimate);
    return;
  }
  res.status(s.replayed ? 200 : 202).set('Location', `/v1/batches/${s.batch.id}`).json(s.batch);
}

export const ListQuery = z.strictObject({
  status: BatchStatus.optional(),
  model: z.string().regex(/^[A-Za-z0-9._:/-]+$/, 'a model name').optional(),
  created_after: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().regex(/^[A-Za-z0-9_-]+$/).optional(),
});

export const LimitsBody = z
  .strictObject({
    max_cost_usd: z.number().positive().nullable().optional(),
    deadline: z.iso.datetime({ offset: true }).nullable().optional(),
    time_limit_seconds: z.int().positive().optional(),
  })
  .refine((b) => !(b.deadline !== undefined && b.time_limit_seconds !== undefined), { message: 'give deadline or time_limit_seconds, not both', path: ['deadline'] })
  .refine((b) => Object.keys(b).length > 0, { message: 'give max_cost_usd, deadline or time_limit_seconds' });

/**
 * Streams with backpressure (a million-row export must not buffer in the socket). pipeline also
 * stops reading the store when the client goes away, and on a failure mid-export destroys the
 * response, so a cut-off export never looks complete.
 */
async function streamRows(res: Response, rows: AsyncIterable<ResultRow>, encode: (r: ResultRow) => string, head = ''): Promise<void> {
  async function* lines() {
    if (head) yield head;
    for await (const row of rows) yield encode(row);
  }
  await pipeline(Readable.from(lines()), res);
}

export function batchesRouter(service: BatchService, intake: IntakeContext): Router {
  const router = Router();
  // Until API keys exist every caller is the default tenant; routes already pass it through.
  const tenant = DEFAULT_TENANT;

  router.post('/v1/batches', async (req, res) => {
    if (req.is(NDJSON_TYPES)) {
      sendSubmitted(res, await service.submitNdjson(tenant, draftFromQuery(req.query, intake), req));
      return;
    }
    sendSubmitted(res, hasFile(req.body) ? await service.submitFile(tenant, req.body) : await service.submitJson(tenant, req.body));
  });

  router.post('/v1/batches/estimate', async (req, res) => {
    if (req.is(NDJSON_TYPES)) {
      res.json(await service.estimateNdjson(draftFromQuery(req.query, intake), req));
      return;
    }
    res.json(hasFile(req.body) ? await service.estimateFile(tenant, req.body) : service.estimateJson(req.body));
  });

  /** Every problem of a body, with its line or path, and nothing created: always a 200. */
  router.post('/v1/batches/validate', async (req, res) => {
    try {
      const estimate = req.is(NDJSON_TYPES)
        ? await service.estimateNdjson(draftFromQuery(req.query, intake), req)
        : hasFile(req.body)
          ? await service.estimateFile(tenant, req.body)
          : service.estimateJson(req.body);
      res.json({ object: 'validation', valid: true, item_count: estimate.item_count, chunk_count: estimate.chunks.count, issue_count: 0, issues: [] });
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      req.resume();
      res.json({ object: 'validation', valid: false, issue_count: err.issueCount, issues: err.issues ?? [] });
    }
  });

  router.post('/v1/completions/:operation', async (req, res) => {
    const { timeout_seconds } = parse(CompletionQuery, req.query);
    const done = await service.complete(tenant, req.params.operation, req.body, timeout_seconds * 1000);
    res.json({ object: 'completion', batch_id: done.batch_id, results: done.results.map(resultView) });
  });

  router.get('/v1/batches', async (req, res) => {
    const q = parse(ListQuery, req.query);
    res.json({ object: 'list', ...(await service.list(tenant, q)) });
  });

  router.patch('/v1/batches/:id/limits', async (req, res) => {
    const body = parse(LimitsBody, req.body);
    const patch: LimitsPatch = {};
    if (body.max_cost_usd !== undefined) patch.maxCostUsd = body.max_cost_usd;
    if (body.deadline !== undefined) patch.deadlineMs = body.deadline === null ? null : Date.parse(body.deadline);
    if (body.time_limit_seconds !== undefined) patch.deadlineMs = Date.now() + body.time_limit_seconds * 1000;
    res.json(await service.setLimits(tenant, req.params.id, patch));
  });

  router.post('/v1/batches/:id/cancel', async (req, res) => {
    res.status(202).json(await service.cancel(tenant, req.params.id));
  });
  router.post('/v1/batches/:id/pause', async (req, res) => {
    res.json(await service.pause(tenant, req.params.id));
  });
  router.post('/v1/batches/:id/resume', async (req, res) => {
    res.json(await service.resume(tenant, req.params.id));
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
    await sendExport(res, q.format, rows, await service.outputColumns(tenant, req.params.id));
  });

  /** The whole export as a file, named after the batch. */
  router.get('/v1/batches/:id/results/download', async (req, res) => {
    const q = parse(DownloadQuery, req.query);
    const rows = await service.streamResults(tenant, req.params.id, q.status);
    const name = `${req.params.id}${q.status ? `-${q.status}` : ''}-results.${q.format}`;
    res.attachment(name);
    await sendExport(res, q.format, rows, await service.outputColumns(tenant, req.params.id));
  });

  router.get('/v1/batches/:id/items/:itemId', async (req, res) => {
    res.json(resultView(await service.item(tenant, req.params.id, req.params.itemId)));
  });

  return router;
}
