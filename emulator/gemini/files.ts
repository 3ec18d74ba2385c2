/**
 * Gemini's Files API: the resumable upload protocol the SDK speaks, metadata, listing, raw
 * downloads and deletion. Batch output files (`files/batch-…`) live here too.
 *
 * Upload: `POST /upload/{V}/files` with `X-Goog-Upload-Command: start` opens a session and answers
 * with an absolute `x-goog-upload-url` (the SDK keeps its path and query but swaps in its own
 * host); chunks are POSTed there with `upload` and, last, `upload, finalize`, each answered with
 * `x-goog-upload-status: active` until the final one, which carries the File.
 */
import { createHash } from 'node:crypto';
import type { ApiError } from '../api-error.js';
import { newGeminiId, rfc3339 } from '../ids.js';
import { headerValue, jsonBody, type RequestContext, type Router } from '../routing.js';
import { RecordDir } from '../state-dir.js';
import type { EmulatorStats } from '../stats.js';
import { geminiError } from './edge.js';
import { tokenPage } from './paging.js';

/** Files expire 48 hours after upload. */
const TTL_MS = 48 * 3600 * 1000;
const CHUNK_GRANULARITY = 8 * 1024 * 1024;
const FILE_ID = /^[a-z0-9-]{1,40}$/;

export interface GeminiFileRecord {
  id: string;
  displayName: string | undefined;
  mimeType: string;
  content: Buffer;
  createdMs: number;
  source: 'UPLOADED' | 'GENERATED';
}

interface UploadSession {
  fileId: string;
  displayName: string | undefined;
  mimeType: string;
  declaredSize: number | undefined;
  chunks: Buffer[];
  received: number;
}

/** What is kept of a file across restarts; its bytes are the `content` blob. */
export type GeminiFileSnapshot = Omit<GeminiFileRecord, 'content'>;

export class GeminiFileStore {
  private readonly files = new Map<string, GeminiFileRecord>();
  /** Uploads in progress are not kept: a restart mid-upload loses the session, and the client starts again. */
  private readonly uploads = new Map<string, UploadSession>();

  /** @param persist where files are kept across restarts (`stateDir`); none keeps them in memory only */
  constructor(private readonly persist?: RecordDir<GeminiFileSnapshot>) {}

  /** Loads the files a previous process kept; returns how many. */
  restore(warn: (message: string) => void): number {
    return (
      this.persist?.load(warn, ({ id, record, blob }) => {
        this.files.set(id, { ...record, content: RecordDir.need(blob('content'), 'content') });
      }) ?? 0
    );
  }

  add(
    content: Buffer,
    opts: { id?: string; displayName?: string | undefined; mimeType: string; source: GeminiFileRecord['source'] },
  ): GeminiFileRecord {
    const record: GeminiFileRecord = {
      id: opts.id ?? newGeminiId(),
      displayName: opts.displayName,
      mimeType: opts.mimeType,
      content,
      createdMs: Date.now(),
      source: opts.source,
    };
    const { content: _, ...snapshot } = record;
    this.persist?.put(record.id, snapshot, { content });
    this.files.set(record.id, record);
    return record;
  }

  get(id: string): GeminiFileRecord | undefined {
    return this.files.get(id);
  }

  /** The real API answers 403, not 404, for a file that does not exist. */
  require(id: string): GeminiFileRecord {
    const file = this.files.get(id);
    if (!file) throw missing(id);
    return file;
  }

  delete(id: string): void {
    this.require(id);
    this.persist?.delete(id);
    this.files.delete(id);
  }

  /** Newest first. */
  all(): GeminiFileRecord[] {
    return [...this.files.values()].reverse();
  }

  openUpload(session: UploadSession): string {
    const uploadId = `${newGeminiId()}${newGeminiId()}`;
    this.uploads.set(uploadId, session);
    return uploadId;
  }

  upload(uploadId: string): UploadSession | undefined {
    return this.uploads.get(uploadId);
  }

  closeUpload(uploadId: string): void {
    this.uploads.delete(uploadId);
  }

  /** Forgets the files in memory; `StateDir.wipe()` forgets the kept ones. */
  clear(): void {
    this.files.clear();
    this.uploads.clear();
  }
}

const missing = (id: string): ApiError =>
  geminiError(403, `You do not have permission to access the File ${id} or it may not exist.`, 'PERMISSION_DENIED');

/** The File resource; `uri` and `downloadUri` point at this server, under the version the client used. */
export function fileWire(f: GeminiFileRecord, origin: string, version: string): Record<string, unknown> {
  const created = rfc3339(f.createdMs);
  return {
    name: `files/${f.id}`,
    ...(f.displayName !== undefined ? { displayName: f.displayName } : {}),
    mimeType: f.mimeType,
    sizeBytes: String(f.content.length),
    createTime: created,
    updateTime: created,
    expirationTime: rfc3339(f.createdMs + TTL_MS),
    sha256Hash: Buffer.from(createHash('sha256').update(f.content).digest('hex')).toString('base64'),
    uri: `${origin}/${version}/files/${f.id}`,
    ...(f.source === 'GENERATED' ? { downloadUri: `${origin}/download/${version}/files/${f.id}:download?alt=media` } : {}),
    state: 'ACTIVE',
    source: f.source,
  };
}

export function registerGeminiFileRoutes(router: Router, files: GeminiFileStore, stats: EmulatorStats): void {
  const download = (ctx: RequestContext) => {
    const file = files.require(ctx.params.id as string);
    return { raw: file.content, contentType: file.mimeType };
  };
  router
    .add('POST', '/upload/:version/files', (ctx) => {
      const uploadId = ctx.query.get('upload_id');
      return uploadId === null ? startUpload(ctx, files) : uploadChunk(ctx, files, uploadId, stats);
    })
    .add('GET', '/:version/files', (ctx) => {
      const { items, nextPageToken } = tokenPage(files.all(), (f) => f.id, ctx.query, 10, 100);
      return {
        json: {
          files: items.map((f) => fileWire(f, ctx.origin, ctx.params.version as string)),
          ...(nextPageToken !== undefined ? { nextPageToken } : {}),
        },
      };
    })
    .add('GET', '/:version/files/:id:download', download)
    .add('GET', '/download/:version/files/:id:download', download)
    .add('GET', '/:version/files/:id', (ctx) => ({
      json: fileWire(files.require(ctx.params.id as string), ctx.origin, ctx.params.version as string),
    }))
    .add('DELETE', '/:version/files/:id', (ctx) => {
      files.delete(ctx.params.id as string);
      return { json: {} };
    });
}

function startUpload(ctx: RequestContext, files: GeminiFileStore) {
  const protocol = headerValue(ctx.headers, 'x-goog-upload-protocol');
  if (protocol !== 'resumable') {
    throw geminiError(
      400,
      `The Drover emulator only emulates resumable uploads (X-Goog-Upload-Protocol: resumable), not '${protocol ?? 'simple'}'.`,
      'INVALID_ARGUMENT',
    );
  }
  if (!commandsOf(ctx).includes('start'))
    throw geminiError(400, 'X-Goog-Upload-Command must be start for a new upload.', 'INVALID_ARGUMENT');
  const body = jsonBody(ctx, 'Invalid JSON payload received.');
  const file = (typeof body.file === 'object' && body.file !== null ? body.file : {}) as Record<string, unknown>;
  let fileId: string | undefined;
  if (typeof file.name === 'string') {
    fileId = file.name.replace(/^files\//, '');
    if (!FILE_ID.test(fileId))
      throw geminiError(400, `Invalid file name '${file.name}': use lowercase letters, digits and dashes, at most 40.`, 'INVALID_ARGUMENT');
    if (files.get(fileId)) throw geminiError(409, `A file named files/${fileId} already exists.`, 'ALREADY_EXISTS');
  }
  const declared =
    headerValue(ctx.headers, 'x-goog-upload-header-content-length') ?? (typeof file.sizeBytes === 'string' ? file.sizeBytes : undefined);
  const mimeType =
    headerValue(ctx.headers, 'x-goog-upload-header-content-type') ??
    (typeof file.mimeType === 'string' ? file.mimeType : 'application/octet-stream');
  const uploadId = files.openUpload({
    fileId: fileId ?? newGeminiId(),
    displayName: typeof file.displayName === 'string' ? file.displayName : undefined,
    mimeType,
    declaredSize: declared === undefined ? undefined : Number(declared),
    chunks: [],
    received: 0,
  });
  const url = `${ctx.origin}/upload/${ctx.params.version as string}/files?upload_id=${uploadId}&upload_protocol=resumable`;
  return {
    raw: Buffer.alloc(0),
    contentType: 'text/plain; charset=utf-8',
    headers: {
      'x-goog-upload-url': url,
      'x-goog-upload-control-url': url,
      'x-goog-upload-status': 'active',
      'x-goog-upload-chunk-granularity': String(CHUNK_GRANULARITY),
    },
  };
}

function uploadChunk(ctx: RequestContext, files: GeminiFileStore, uploadId: string, stats: EmulatorStats) {
  const session = files.upload(uploadId);
  if (!session) throw geminiError(404, 'Upload session not found; it may have been finalized or cancelled.', 'NOT_FOUND');
  const commands = commandsOf(ctx);
  const status = (s: string, extra: Record<string, string> = {}) => ({
    raw: Buffer.alloc(0),
    contentType: 'text/plain; charset=utf-8',
    headers: { 'x-goog-upload-status': s, ...extra },
  });
  if (commands.includes('cancel')) {
    files.closeUpload(uploadId);
    return status('cancelled');
  }
  if (commands.includes('query')) return status('active', { 'x-goog-upload-size-received': String(session.received) });
  if (commands.includes('upload')) {
    const offset = Number(headerValue(ctx.headers, 'x-goog-upload-offset') ?? session.received);
    if (offset !== session.received) {
      throw geminiError(400, `Upload offset ${offset} does not match the ${session.received} bytes received so far.`, 'INVALID_ARGUMENT');
    }
    session.chunks.push(ctx.body);
    session.received += ctx.body.length;
  }
  if (!commands.includes('finalize')) return status('active');
  if (session.declaredSize !== undefined && Number.isFinite(session.declaredSize) && session.declaredSize !== session.received) {
    throw geminiError(
      400,
      `Upload finalized with ${session.received} bytes, but ${session.declaredSize} were declared.`,
      'INVALID_ARGUMENT',
    );
  }
  files.closeUpload(uploadId);
  const file = files.add(Buffer.concat(session.chunks), {
    id: session.fileId,
    displayName: session.displayName,
    mimeType: session.mimeType,
    source: 'UPLOADED',
  });
  stats.gemini.files_uploaded++;
  return { json: { file: fileWire(file, ctx.origin, ctx.params.version as string) }, headers: { 'x-goog-upload-status': 'final' } };
}

function commandsOf(ctx: RequestContext): string[] {
  return (headerValue(ctx.headers, 'x-goog-upload-command') ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '');
}
