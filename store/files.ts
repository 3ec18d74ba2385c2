import { z } from 'zod';
import { inTransaction, type Db, type Queryable } from './db.js';

export const FileRow = z.object({
  id: z.string(),
  tenant_id: z.string(),
  filename: z.string(),
  format: z.enum(['jsonl', 'csv']),
  bytes: z.number(),
  line_count: z.int(),
  created_at: z.date(),
  expires_at: z.date(),
});
export type FileRow = z.infer<typeof FileRow>;

export async function insertFile(db: Queryable, f: Omit<FileRow, 'created_at' | 'expires_at' | 'bytes' | 'line_count'>): Promise<void> {
  await db.query('INSERT INTO files (id, tenant_id, filename, format, bytes, line_count) VALUES ($1, $2, $3, $4, 0, 0)', [
    f.id,
    f.tenant_id,
    f.filename,
    f.format,
  ]);
}

export async function appendLines(db: Queryable, fileId: string, lines: Array<{ line_no: number; line: string }>): Promise<void> {
  if (lines.length === 0) return;
  await db.query('INSERT INTO file_lines (file_id, line_no, line) SELECT $1, * FROM unnest($2::int[], $3::text[])', [
    fileId,
    lines.map((l) => l.line_no),
    lines.map((l) => l.line),
  ]);
}

export async function finishFile(db: Queryable, fileId: string, bytes: number, lineCount: number): Promise<FileRow> {
  const { rows } = await db.query('UPDATE files SET bytes = $2, line_count = $3 WHERE id = $1 RETURNING *', [fileId, bytes, lineCount]);
  return FileRow.parse(rows[0]);
}

/** A file of the tenant's that has not expired (an expired one is gone to its owner even before the sweep removes it). */
export async function findFile(db: Queryable, tenantId: string, id: string): Promise<FileRow | null> {
  const { rows } = await db.query('SELECT * FROM files WHERE tenant_id = $1 AND id = $2 AND expires_at > now()', [tenantId, id]);
  return rows[0] ? FileRow.parse(rows[0]) : null;
}

/** Sets when a file expires, `seconds` from now. */
export async function setFileExpiry(db: Queryable, id: string, seconds: number): Promise<FileRow> {
  const { rows } = await db.query('UPDATE files SET expires_at = now() + make_interval(secs => $2) WHERE id = $1 RETURNING *', [
    id,
    seconds,
  ]);
  return FileRow.parse(rows[0]);
}

/**
 * Deletes a file of the tenant's, its lines with it. A submit reading the file holds a share lock
 * on its row (`fileLines`) until its transaction ends; the file is then `busy`, never pulled from
 * under a batch half read.
 */
export async function deleteFile(db: Db, tenantId: string, id: string): Promise<'deleted' | 'missing' | 'busy'> {
  try {
    return await inTransaction(db, async (tx) => {
      const { rows } = await tx.query('SELECT id FROM files WHERE tenant_id = $1 AND id = $2 AND expires_at > now() FOR UPDATE NOWAIT', [
        tenantId,
        id,
      ]);
      if (rows.length === 0) return 'missing';
      await tx.query('DELETE FROM files WHERE id = $1', [id]);
      return 'deleted';
    });
  } catch (err) {
    if ((err as { code?: string }).code === LOCK_NOT_AVAILABLE) return 'busy';
    throw err;
  }
}

const LOCK_NOT_AVAILABLE = '55P03';

/**
 * Removes up to `limit` expired files (their lines go with them) and says how many. Files a submit
 * is reading are skipped, and taken by a later sweep.
 */
export async function sweepExpiredFiles(db: Queryable, limit = 100): Promise<number> {
  const { rowCount } = await db.query(
    'DELETE FROM files WHERE id IN (SELECT id FROM files WHERE expires_at <= now() ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)',
    [limit],
  );
  return rowCount ?? 0;
}

/** The file's lines in order, a page at a time, so a batch built from it streams. */
export async function* fileLines(db: Queryable, fileId: string, pageSize = 2000): AsyncGenerator<{ line_no: number; line: string }> {
  // Inside the submit's transaction this share lock holds until it commits, so a DELETE (or the
  // expiry sweep) cannot take the lines away half read. A file already gone reads as empty.
  const { rows: held } = await db.query('SELECT id FROM files WHERE id = $1 FOR SHARE', [fileId]);
  if (held.length === 0) return;
  let after = 0;
  for (;;) {
    const { rows } = await db.query('SELECT line_no, line FROM file_lines WHERE file_id = $1 AND line_no > $2 ORDER BY line_no LIMIT $3', [
      fileId,
      after,
      pageSize,
    ]);
    for (const r of rows) yield r;
    if (rows.length < pageSize) return;
    after = rows[rows.length - 1].line_no;
  }
}
