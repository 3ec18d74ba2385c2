import type { Readable } from 'node:stream';
import { Router, type Request } from 'express';
import { z } from 'zod';
import { zodIssues } from '../../domain/issues.js';
import { DEFAULT_TENANT } from '../../domain/tenant.js';
import { findFile } from '../../store/files.js';
import type { Db } from '../../store/db.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { storeUpload } from '../file-intake.js';
import { multipartFile } from '../multipart.js';
import { fileView } from '../views.js';

export const UploadQuery = z.strictObject({
  filename: z.string().min(1).max(255).optional().meta({ description: 'Defaults to the multipart file name, else upload.<format>.' }),
  format: z.enum(['jsonl', 'csv']).optional().meta({ description: 'Defaults from the content type, else the file name.' }),
});
type UploadQuery = z.infer<typeof UploadQuery>;

export const FileParams = z.strictObject({ id: z.string() });

/** The format named outright, else the content type, else the file name's extension. */
function formatOf(named: string | undefined, contentType: string | undefined, filename: string | undefined): 'jsonl' | 'csv' | null {
  if (named === 'csv' || named === 'jsonl') return named;
  if (contentType && /csv/.test(contentType)) return 'csv';
  if (contentType && /(ndjson|jsonl|json-lines|jsonlines)/.test(contentType)) return 'jsonl';
  if (filename?.endsWith('.csv')) return 'csv';
  if (filename?.endsWith('.jsonl') || filename?.endsWith('.ndjson')) return 'jsonl';
  return null;
}

/** The upload's bytes, name and format: the `file` part of a multipart form, or the raw body. */
async function upload(req: Request, query: UploadQuery): Promise<{ body: Readable; filename: string | undefined; format: 'jsonl' | 'csv' | null }> {
  if (!req.is('multipart/form-data')) {
    return { body: req, filename: query.filename, format: formatOf(query.format, req.get('content-type'), query.filename) };
  }
  const part = await multipartFile(req);
  const named = query.format ?? part.fields.format;
  if (named !== undefined && named !== 'csv' && named !== 'jsonl') {
    part.stream.resume();
    throw new ValidationError([{ path: 'format', message: `format is csv or jsonl, not ${JSON.stringify(named)}` }]);
  }
  const filename = query.filename ?? part.fields.filename ?? part.filename;
  // Browsers send application/octet-stream for an unknown extension: then the name decides.
  return { body: part.stream, filename, format: formatOf(named, part.mimeType, filename) };
}

/**
 * `POST /v1/files`: a JSONL or CSV file as the multipart field `file` (`curl -F file=@items.csv`)
 * or as the raw body (`Content-Type: text/csv` or `application/x-ndjson`, `?filename=`), streamed
 * into the store. `POST /v1/batches` then takes `input_file_id` instead of `items`.
 */
export function filesRouter(db: Db): Router {
  const router = Router();
  router.post('/v1/files', async (req, res) => {
    const parsed = UploadQuery.safeParse(req.query);
    if (!parsed.success) throw new ValidationError(zodIssues(parsed.error));
    const { body, filename, format } = await upload(req, parsed.data);
    if (!format) {
      body.resume();
      throw new ValidationError([{ path: 'format', message: 'say csv or jsonl: ?format=, a Content-Type of text/csv or application/x-ndjson, or a filename ending .csv or .jsonl' }]);
    }
    const file = await storeUpload(db, DEFAULT_TENANT, { filename: filename ?? `upload.${format}`, format }, body);
    res.status(201).json(fileView(file));
  });
  router.get('/v1/files/:id', async (req, res) => {
    const file = await findFile(db, DEFAULT_TENANT, req.params.id);
    if (!file) throw new NotFoundError(`file ${req.params.id}`);
    res.json(fileView(file));
  });
  return router;
}
