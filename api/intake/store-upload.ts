import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { splitLines } from '../../domain/lines.js';
import { csvItem, csvRecords, CsvSyntaxError } from '../../domain/csv-records.js';
import { InvalidUtf8Error, utf8Checked } from '../../domain/utf8.js';
import { inTransaction, type Db } from '../../store/db.js';
import { appendLines, finishFile, insertFile, type FileRow } from '../../store/files.js';
import { ValidationError } from '../errors.js';
import { byteLimited, DEFAULT_INTAKE_LIMITS, tooManyItems, type IntakeLimits } from './limits.js';
import { INSERT_PAGE } from './new-batch.js';

/**
 * Stores an uploaded JSONL or CSV file line by line in one transaction, reading the body as a
 * stream: a 100 MB file never sits in memory. CSV rows become JSONL item objects (`csvItem`)
 * under the CSV line they began on, so later errors name lines of the file the user sent.
 * What would be stored wrongly is refused with its line: a byte that is not UTF-8, a NUL
 * character, a CSV row with more or fewer fields than the header, a quote never closed.
 */
export async function storeUpload(
  db: Db,
  tenantId: string,
  file: { filename: string; format: 'jsonl' | 'csv' },
  body: Readable,
  limits: IntakeLimits = DEFAULT_INTAKE_LIMITS,
): Promise<FileRow> {
  let bytes = 0;
  // Counting inside the one reader: a 'data' listener would start the stream before it is read.
  async function* counted(): AsyncGenerator<Uint8Array> {
    const limited = byteLimited(body as AsyncIterable<Buffer>, limits.maxStreamBytes, 'file', 'split it into several files and batches');
    for await (const chunk of utf8Checked(limited)) {
      bytes += chunk.length;
      yield chunk;
    }
  }
  async function* text(): AsyncGenerator<string> {
    const decoder = new TextDecoder();
    for await (const chunk of counted()) yield decoder.decode(chunk, { stream: true });
    yield decoder.decode();
  }
  const store = () =>
    inTransaction(db, async (tx) => {
      const id = `file_${randomUUID().replaceAll('-', '')}`;
      await insertFile(tx, { id, tenant_id: tenantId, filename: file.filename, format: file.format });
      let page: Array<{ line_no: number; line: string }> = [];
      let count = 0;
      const add = async (line_no: number, line: string) => {
        if (line.includes('\u0000'))
          throw new ValidationError([{ line: line_no, path: '(line)', message: 'contains a NUL character, which cannot be stored' }]);
        if (count >= limits.maxItems) throw tooManyItems(limits.maxItems, { path: '(line)', line: line_no, message: '' });
        page.push({ line_no, line });
        count++;
        if (page.length >= INSERT_PAGE) {
          await appendLines(tx, id, page);
          page = [];
        }
      };
      if (file.format === 'jsonl') {
        let n = 0;
        for await (const line of splitLines(counted())) {
          n++;
          if (line.trim()) await add(n, line);
        }
      } else {
        let header: string[] | null = null;
        for await (const record of csvRecords(text())) {
          if (!header) {
            header = record.fields.map((h) => h.trim());
            if (!header.includes('id'))
              throw new ValidationError([{ line: record.line, path: '(header)', message: 'a CSV needs an "id" column' }]);
            continue;
          }
          if (record.fields.some((f) => f.includes('\u0000')))
            throw new ValidationError([{ line: record.line, path: '(row)', message: 'contains a NUL character, which cannot be stored' }]);
          if (record.fields.length !== header.length)
            throw new ValidationError([
              {
                line: record.line,
                path: '(row)',
                message: `has ${record.fields.length} field${record.fields.length === 1 ? '' : 's'}; the header has ${header.length}: quote values that hold commas`,
              },
            ]);
          await add(record.line, JSON.stringify(csvItem(header, record.fields)));
        }
      }
      if (count === 0) throw new ValidationError([{ path: '(body)', message: 'the file has no items' }]);
      await appendLines(tx, id, page);
      return finishFile(tx, id, bytes, count);
    });
  try {
    return await store();
  } catch (err) {
    if (err instanceof InvalidUtf8Error)
      throw new ValidationError([
        { line: err.line, path: '(line)', message: `not valid UTF-8 at byte ${err.byte} of the file: send UTF-8 text` },
      ]);
    if (err instanceof CsvSyntaxError) throw new ValidationError([{ line: err.line, path: '(row)', message: err.message }]);
    throw err;
  }
}
