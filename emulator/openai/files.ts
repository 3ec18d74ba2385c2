/** `/v1/files`: uploads (multipart), metadata, listing, raw content and deletion. */
import { badRequest, notFound } from '../api-error.js';
import { newFileId, nowSeconds } from '../ids.js';
import { parseMultipart } from '../multipart.js';
import type { Router } from '../routing.js';
import { RecordDir } from '../state-dir.js';
import type { EmulatorStats } from '../stats.js';
import { cursorPage, limitParam } from './paging.js';
import type { WireFile } from './wire-types.js';

const UPLOAD_PURPOSES = ['assistants', 'batch', 'fine-tune', 'vision', 'user_data', 'evals'] as const;
type UploadPurpose = (typeof UPLOAD_PURPOSES)[number];

/** Batch input and output files expire after 30 days unless told otherwise. */
const DEFAULT_BATCH_FILE_TTL_S = 30 * 24 * 3600;
const MAX_FILE_BYTES = 512 * 1024 * 1024;

export interface StoredFile {
  object: WireFile;
  content: Buffer;
}

export class FileStore {
  private readonly files = new Map<string, StoredFile>();

  /** @param persist where files are kept across restarts (`stateDir`); none keeps them in memory only */
  constructor(private readonly persist?: RecordDir<WireFile>) {}

  /** Loads the files a previous process kept; returns how many. */
  restore(warn: (message: string) => void): number {
    return (
      this.persist?.load(warn, ({ id, record, blob }) => {
        this.files.set(id, { object: record, content: RecordDir.need(blob('content'), 'content') });
      }) ?? 0
    );
  }

  add(content: Buffer, filename: string, purpose: WireFile['purpose'], ttlSeconds?: number): WireFile {
    const created = nowSeconds();
    const ttl = ttlSeconds ?? (purpose === 'batch' || purpose === 'batch_output' ? DEFAULT_BATCH_FILE_TTL_S : undefined);
    const object: WireFile = {
      id: newFileId(),
      object: 'file',
      bytes: content.length,
      created_at: created,
      expires_at: ttl === undefined ? null : created + ttl,
      filename,
      purpose,
      status: 'processed',
      status_details: null,
    };
    this.persist?.put(object.id, object, { content });
    this.files.set(object.id, { object, content });
    return object;
  }

  get(id: string): StoredFile | undefined {
    return this.files.get(id);
  }

  require(id: string): StoredFile {
    const file = this.files.get(id);
    if (!file) throw notFound(`No such File object: ${id}`, 'id');
    return file;
  }

  delete(id: string): boolean {
    this.persist?.delete(id);
    return this.files.delete(id);
  }

  /** Oldest first (insertion order). */
  all(): WireFile[] {
    return [...this.files.values()].map((f) => f.object);
  }

  /** Forgets the files in memory; `StateDir.wipe()` forgets the kept ones. */
  clear(): void {
    this.files.clear();
  }
}

export function registerFileRoutes(router: Router, files: FileStore, stats: EmulatorStats): void {
  router
    .add('POST', '/v1/files', (ctx) => {
      const contentType = ctx.headers['content-type'] ?? '';
      if (!/^multipart\/form-data/i.test(contentType)) {
        throw badRequest("Invalid Content-Type header, expected 'multipart/form-data'.");
      }
      const parts = parseMultipart(ctx.body, contentType);
      const field = (name: string): string | undefined =>
        parts.find((p) => p.name === name && p.filename === undefined)?.data.toString('utf8');
      const filePart = parts.find((p) => p.name === 'file');
      if (!filePart) throw badRequest("Missing required parameter: 'file'.", 'file', 'missing_required_parameter');
      const purpose = field('purpose');
      if (purpose === undefined) throw badRequest("Missing required parameter: 'purpose'.", 'purpose', 'missing_required_parameter');
      if (!(UPLOAD_PURPOSES as readonly string[]).includes(purpose)) {
        throw badRequest(
          `'${purpose}' is not one of ${UPLOAD_PURPOSES.map((p) => `'${p}'`).join(', ')} - 'purpose'`,
          'purpose',
          'invalid_value',
        );
      }
      if (filePart.data.length > MAX_FILE_BYTES) throw badRequest('File is too large.', 'file', 'file_too_large');
      const filename = filePart.filename ?? 'upload';
      // Only a wrong extension is refused: the Python SDK names raw bytes `upload` (httpx's
      // default), which is how Bespoke Curator uploads its batch files.
      if (purpose === 'batch' && /\.[^.]*$/.test(filename) && !filename.toLowerCase().endsWith('.jsonl')) {
        throw badRequest('Invalid file format for Batch API. Must be .jsonl', 'file', 'invalid_file_format');
      }
      const ttl = expiresAfterSeconds(field('expires_after[anchor]'), field('expires_after[seconds]'));
      const object = files.add(Buffer.from(filePart.data), filename, purpose as UploadPurpose, ttl);
      stats.files_uploaded++;
      return { json: object };
    })
    .add('GET', '/v1/files', (ctx) => {
      const purpose = ctx.query.get('purpose');
      const order = ctx.query.get('order') ?? 'desc';
      if (order !== 'asc' && order !== 'desc') throw badRequest(`Invalid 'order': '${order}'.`, 'order', 'invalid_value');
      let items = files.all();
      if (purpose) items = items.filter((f) => f.purpose === purpose);
      if (order === 'desc') items.reverse();
      return { json: cursorPage(items, ctx.query.get('after'), limitParam(ctx.query, 10_000, 10_000)) };
    })
    .add('GET', '/v1/files/:id', (ctx) => ({ json: files.require(ctx.params.id as string).object }))
    .add('GET', '/v1/files/:id/content', (ctx) => {
      const file = files.require(ctx.params.id as string);
      return { raw: file.content, contentType: 'application/octet-stream' };
    })
    .add('DELETE', '/v1/files/:id', (ctx) => {
      const id = ctx.params.id as string;
      files.require(id);
      files.delete(id);
      return { json: { id, object: 'file', deleted: true } };
    });
}

function expiresAfterSeconds(anchor: string | undefined, seconds: string | undefined): number | undefined {
  if (anchor === undefined && seconds === undefined) return undefined;
  if (anchor !== 'created_at')
    throw badRequest("Invalid 'expires_after.anchor': expected 'created_at'.", 'expires_after.anchor', 'invalid_value');
  const n = Number(seconds);
  if (!Number.isInteger(n) || n < 3600 || n > 2_592_000) {
    throw badRequest(
      "Invalid 'expires_after.seconds': integer between 3600 and 2592000 expected.",
      'expires_after.seconds',
      'invalid_value',
    );
  }
  return n;
}
