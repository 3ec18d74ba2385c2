import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, type CopyStreamQuery } from 'pg-copy-streams';
import type { PreparedItem } from '../domain/item-validator.js';
import type { StoredInput } from '../domain/prompt.js';
import type { Queryable } from './db.js';
import type { ItemError } from '../domain/responses.js';

/** One statement per call, whatever the count: callers pass pages of a few thousand items. */
export async function insertItems(db: Queryable, tenantId: string, batchId: string, items: PreparedItem[]): Promise<void> {
  if (items.length === 0) return;
  await db.query(
    `INSERT INTO items (tenant_id, batch_id, seq, item_id, input, metadata, request_bytes, est_input_tokens)
     SELECT $1, $2, t.seq, t.item_id, t.input::jsonb, t.metadata::jsonb, t.request_bytes, t.est_input_tokens
     FROM unnest($3::int[], $4::text[], $5::text[], $6::text[], $7::int[], $8::int[]) AS t(seq, item_id, input, metadata, request_bytes, est_input_tokens)`,
    [
      tenantId,
      batchId,
      items.map((i) => i.seq),
      items.map((i) => i.item_id),
      items.map((i) => JSON.stringify(i.input)),
      items.map((i) => (i.metadata === null ? null : JSON.stringify(i.metadata))),
      items.map((i) => i.request_bytes),
      items.map((i) => i.est_input_tokens),
    ],
  );
}

const COPY_ITEMS = 'COPY items (tenant_id, batch_id, seq, item_id, input, metadata, request_bytes, est_input_tokens) FROM STDIN';

/** Text sent to PostgreSQL in pieces of about this many characters (COPY data messages). */
const COPY_PIECE = 256 * 1024;

const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A value as COPY's text format reads it: backslash, tab, newline and carriage return escaped. */
function copyText(s: string): string {
  return /[\\\t\n\r]/.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]!) : s;
}

/** One row of COPY_ITEMS; `head` is the tenant and batch columns, the same for every row. */
function copyRow(head: string, i: PreparedItem): string {
  // JSON.stringify escapes every control character, so a backslash is all COPY could misread in it.
  const input = JSON.stringify(i.input).replaceAll('\\', '\\\\');
  const metadata = i.metadata === null ? '\\N' : JSON.stringify(i.metadata).replaceAll('\\', '\\\\');
  return `${head}${i.seq}\t${copyText(i.item_id)}\t${input}\t${metadata}\t${i.request_bytes}\t${i.est_input_tokens}\n`;
}

/**
 * Items streamed into PostgreSQL with COPY: rows are sent as they are written and PostgreSQL
 * stores them while the next ones are read, so intake never waits on a round trip per page.
 * `write` returns a promise only when PostgreSQL is behind (await it: that is the
 * backpressure that keeps a million-item body out of memory). The COPY holds its connection
 * until `end`; `abort` sends CopyFail, so the transaction around it can roll back.
 */
export interface ItemSink {
  write(item: PreparedItem): Promise<void> | undefined;
  end(): Promise<void>;
  abort(reason: Error): Promise<void>;
}

/** One COPY for all the items: for sources that do not read through the same connection. */
export function copyItems(client: pg.PoolClient, tenantId: string, batchId: string): ItemSink {
  const head = `${copyText(tenantId)}\t${copyText(batchId)}\t`;
  let stream: CopyStreamQuery | null = null;
  let piece = '';
  const open = () => {
    const s = client.query(copyFrom(COPY_ITEMS));
    // A failure is read through `once`/`finished` below; without a listener it would crash the process.
    s.on('error', () => {});
    return s;
  };
  const send = (): Promise<void> | undefined => {
    stream ??= open();
    // A COPY PostgreSQL refused never drains: its error is the answer.
    if (stream.errored) throw stream.errored;
    const ok = stream.write(piece);
    piece = '';
    return ok ? undefined : once(stream, 'drain').then(() => undefined);
  };
  return {
    write(item) {
      piece += copyRow(head, item);
      return piece.length >= COPY_PIECE ? send() : undefined;
    },
    async end() {
      if (piece.length > 0) await send();
      if (!stream) return;
      stream.end();
      await finished(stream);
    },
    async abort(reason) {
      if (!stream) return;
      stream.destroy(reason);
      await finished(stream).catch(() => {});
    },
  };
}

/**
 * COPY in pages of `pageSize` items, each one a whole statement: for a source read through the
 * same connection (an uploaded file's lines), which cannot query while a COPY holds it.
 */
export function copyItemPages(client: pg.PoolClient, tenantId: string, batchId: string, pageSize: number): ItemSink {
  let page: PreparedItem[] = [];
  const flush = async () => {
    const sink = copyItems(client, tenantId, batchId);
    for (const item of page) await sink.write(item);
    page = [];
    await sink.end();
  };
  return {
    write(item) {
      page.push(item);
      return page.length >= pageSize ? flush() : undefined;
    },
    async end() {
      if (page.length > 0) await flush();
    },
    async abort() {
      page = [];
    },
  };
}

/**
 * The sizes of the items with seqs in [fromSeq, toSeq), in seq order. A window of seqs, not a
 * LIMIT: each query reads at most that many items whatever plan PostgreSQL picks (a batch just
 * written has no statistics yet; with a LIMIT the planner read and sorted every item after the
 * cursor for each page).
 */
export async function itemSizesPage(
  db: Queryable,
  batchId: string,
  fromSeq: number,
  toSeq: number,
): Promise<Array<{ seq: number; request_bytes: number; est_input_tokens: number }>> {
  const { rows } = await db.query(
    'SELECT seq, request_bytes, est_input_tokens FROM items WHERE batch_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq',
    [batchId, fromSeq, toSeq],
  );
  return rows;
}

/** As `itemSizesPage`, leaving out items that already have an outcome (answered from the result cache before planning). */
export async function unansweredItemSizesPage(
  db: Queryable,
  batchId: string,
  fromSeq: number,
  toSeq: number,
): Promise<Array<{ seq: number; request_bytes: number; est_input_tokens: number }>> {
  const { rows } = await db.query(
    `SELECT i.seq, i.request_bytes, i.est_input_tokens FROM items i
     WHERE i.batch_id = $1 AND i.seq >= $2 AND i.seq < $3
       AND NOT EXISTS (SELECT 1 FROM results r WHERE r.batch_id = i.batch_id AND r.seq = i.seq AND r.status <> 'pending')
     ORDER BY i.seq`,
    [batchId, fromSeq, toSeq],
  );
  return rows;
}

/** Items in a chunk that have no final outcome yet: what an attempt sends. */
export interface UnfinishedItem {
  seq: number;
  input: StoredInput;
  /** The last attempt's failure, which a repair prompt quotes back. */
  error: ItemError | null;
  est_input_tokens: number;
}

export async function unfinishedItems(db: Queryable, batchId: string, seqStart: number, seqEnd: number): Promise<UnfinishedItem[]> {
  const { rows } = await db.query(
    `SELECT i.seq, i.input, r.error, i.est_input_tokens FROM items i
     LEFT JOIN results r ON r.batch_id = i.batch_id AND r.seq = i.seq AND r.seq >= $2 AND r.seq < $3
     WHERE i.batch_id = $1 AND i.seq >= $2 AND i.seq < $3 AND (r.seq IS NULL OR r.status = 'pending')
     ORDER BY i.seq`,
    [batchId, seqStart, seqEnd],
  );
  return rows;
}

/**
 * A rerun's items: those of `fromBatch` whose outcome is one of `statuses`, copied inside
 * PostgreSQL (texts never pass through the API process) with their sizes and estimates, numbered
 * from 0 in their old order. Returns how many were copied.
 */
export async function copyItemsForRerun(
  db: Queryable,
  tenantId: string,
  fromBatch: string,
  toBatch: string,
  statuses: readonly string[],
): Promise<number> {
  const { rowCount } = await db.query(
    `INSERT INTO items (tenant_id, batch_id, seq, item_id, input, metadata, request_bytes, est_input_tokens)
     SELECT $1, $3, (row_number() OVER (ORDER BY i.seq) - 1)::int, i.item_id, i.input, i.metadata, i.request_bytes, i.est_input_tokens
     FROM items i LEFT JOIN results r ON r.batch_id = i.batch_id AND r.seq = i.seq
     WHERE i.batch_id = $2 AND i.tenant_id = $1 AND COALESCE(r.status, 'pending') = ANY($4::text[])`,
    [tenantId, fromBatch, toBatch, statuses],
  );
  return rowCount ?? 0;
}
