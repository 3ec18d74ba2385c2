import { Router } from 'express';
import { z } from 'zod';
import { zodIssues } from '../../domain/issues.js';
import { DEFAULT_TENANT } from '../../domain/tenant.js';
import { findFile } from '../../store/files.js';
import type { Db } from '../../store/db.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { storeUpload } from '../file-intake.js';
import { fileView } from '../views.js';

const UploadQuery = z.strictObject({
  filename: z.string().min(1).max(255).optional(),
  format: z.enum(['jsonl', 'csv']).optional(),
});

/** The format from `?format=`, else the content type, else the file name's extension. */
function formatOf(query: z.infer<typeof UploadQuery>, contentType: string | undefined): 'jsonl' | 'csv' | null {
  if (query.format) return query.format;
  if (contentType && /csv/.test(contentType)) return 'csv';
  if (contentType && /(ndjson|jsonl|json-lines|jsonlines)/.test(contentType)) return 'jsonl';
  if (query.filename?.endsWith('.csv')) return 'csv';
  if (query.filename?.endsWith('.jsonl') || query.filename?.endsWith('.ndjson')) return 'jsonl';
  return null;
}

/**
 * `POST /v1/files`: the raw file as the body (`Content-Type: text/csv` or
 * `application/x-ndjson`, `?filename=`), streamed into the store. `POST /v1/batches` then takes
 * `input_file_id` instead of `items`.
 */
export function filesRouter(db: Db): Router {
  const router = Router();
  router.post('/v1/files', async (req, res) => {
    const parsed = UploadQuery.safeParse(req.query);
    if (!parsed.success) throw new ValidationError(zodIssues(parsed.error));
    const format = formatOf(parsed.data, req.get('content-type'));
    if (!format) throw new ValidationError([{ path: 'format', message: 'say csv or jsonl: ?format=, a Content-Type of text/csv or application/x-ndjson, or a filename ending .csv or .jsonl' }]);
    const file = await storeUpload(db, DEFAULT_TENANT, { filename: parsed.data.filename ?? `upload.${format}`, format }, req);
    res.status(201).json(fileView(file));
  });
  router.get('/v1/files/:id', async (req, res) => {
    const file = await findFile(db, DEFAULT_TENANT, req.params.id);
    if (!file) throw new NotFoundError(`file ${req.params.id}`);
    res.json(fileView(file));
  });
  return router;
}
