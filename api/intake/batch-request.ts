import type { Readable } from 'node:stream';
import type { BatchEstimate } from '../../domain/responses.js';
import type { Db, Queryable } from '../../store/db.js';
import { fileLines, findFile } from '../../store/files.js';
import { ValidationError } from '../errors.js';
import { draftFromQuery, draftFromSettings, type BatchDraft, type IntakeContext } from './batch-draft.js';
import { estimateJsonBatch, hashJsonBatch, storeJsonBatch } from './json-batch.js';
import { checkJson, DEFAULT_INTAKE_LIMITS, nulInQuery } from './limits.js';
import { estimateNdjsonBatch, hashNdjsonBatch, numberedLines, storeNdjsonBatch, type NumberedLine } from './ndjson-batch.js';
import type { Stored } from './new-batch.js';

/**
 * A batch request by where its items come from, each with its settings as written: a JSON body
 * holding both, an NDJSON stream with the settings in the query string, or an uploaded file
 * (`input_file_id`) named in a JSON body beside the settings.
 */
export type BatchRequest =
  | { items: 'json'; body: unknown }
  | { items: 'ndjson'; query: unknown; stream: Readable }
  | { items: 'file'; body: Record<string, unknown> };

/** A request whose settings are checked as far as its form allows before the items are read. */
export interface PendingBatch {
  /** The key a stored batch may already carry; a dry run has none, as it stores nothing. */
  readonly idempotencyKey: string | undefined;
  estimate(): Promise<BatchEstimate>;
  store(): Promise<Stored>;
  /** What a batch made from this request is stored with (RequestHasher); reads the body, stores nothing. */
  requestHash(): Promise<string>;
}

/**
 * The JSON form replays by its key before anything is checked, since settings and items are
 * validated together (one 400 lists both); the other forms check their settings first, and a
 * file must exist before its settings are looked at.
 */
export async function openBatch(db: Db, tenantId: string, request: BatchRequest, ctx: IntakeContext): Promise<PendingBatch> {
  const limits = ctx.limits ?? DEFAULT_INTAKE_LIMITS;
  switch (request.items) {
    case 'json': {
      // What PostgreSQL cannot store (NUL) or a recursive reader cannot walk (deep nesting) stops here.
      checkJson(request.body, limits);
      const raw = (request.body as { idempotency_key?: unknown; dry_run?: unknown } | null) ?? {};
      return {
        idempotencyKey: typeof raw.idempotency_key === 'string' && raw.dry_run !== true ? raw.idempotency_key : undefined,
        estimate: async () => estimateJsonBatch(request.body, ctx),
        store: () => storeJsonBatch(db, tenantId, request.body, ctx),
        requestHash: async () => hashJsonBatch(request.body, ctx),
      };
    }
    case 'ndjson': {
      const nul = nulInQuery(request.query);
      if (nul.length > 0) {
        discardBody(request);
        throw new ValidationError(nul);
      }
      const draft = draftFromQuery(request.query, ctx);
      const lines = () => numberedLines(request.stream, limits);
      return {
        idempotencyKey: keyOf(draft),
        estimate: () => estimateNdjsonBatch(draft, lines(), ctx),
        store: () => storeNdjsonBatch(db, tenantId, draft, lines(), ctx),
        requestHash: () => hashNdjsonBatch(draft, lines(), ctx),
      };
    }
    case 'file': {
      checkJson(request.body, limits);
      const { input_file_id: fileId, ...settings } = request.body;
      const lines = await storedFileLines(db, tenantId, fileId);
      const draft = draftFromSettings(settings, ctx);
      return {
        idempotencyKey: keyOf(draft),
        estimate: () => estimateNdjsonBatch(draft, lines(db), ctx),
        store: () => storeNdjsonBatch(db, tenantId, draft, lines, ctx),
        requestHash: () => hashNdjsonBatch(draft, lines(db), ctx),
      };
    }
  }
}

/** Drains an NDJSON body that will not be read (a replay, or a request already refused), so the client's upload can finish. */
export function discardBody(request: BatchRequest): void {
  if (request.items === 'ndjson') request.stream.resume();
}

function keyOf(draft: BatchDraft): string | undefined {
  return draft.settings.dry_run ? undefined : draft.settings.idempotency_key;
}

/** An uploaded file's lines, read through whichever connection the caller gives (see ndjson-batch.ts LineSource). */
async function storedFileLines(db: Db, tenantId: string, fileId: unknown): Promise<(q: Queryable) => AsyncIterable<NumberedLine>> {
  if (typeof fileId !== 'string') throw new ValidationError([{ path: 'input_file_id', message: 'must be the id of an uploaded file' }]);
  const file = await findFile(db, tenantId, fileId);
  if (!file) throw new ValidationError([{ path: 'input_file_id', message: `no file ${fileId}` }]);
  return async function* (q) {
    for await (const l of fileLines(q, file.id)) yield { lineNo: l.line_no, text: l.line };
  };
}
