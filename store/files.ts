import { z } from 'zod';
import type { Queryable } from './db.js';

export const FileRow = z.object({
  id: z.string(),
  tenant_id: z.string(),
  filename: z.string(),
  format: z.enum(['jsonl', 'csv']),
  bytes: z.number(),
  line_count: z.int(),
  created_at: z.date(),
});
export type FileRow = z.infer<typeof FileRow>;

export async function insertFile(db: Queryable, f: Omit<FileRow, 'created_at' | 'bytes' | 'line_count'>): Promise<void> {
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

export async function findFile(db: Queryable, tenantId: string, id: string): Promise<FileRow | null> {
  const { rows } = await db.query('SELECT * FROM files WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
  return rows[0] ? FileRow.parse(rows[0]) : null;
}

/** The file's lines in order, a page at a time, so a batch built from it streams. */
export async function* fileLines(db: Queryable, fileId: string, pageSize = 2000): AsyncGenerator<{ line_no: number; line: string }> {
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
