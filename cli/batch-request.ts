import { stat } from 'node:fs/promises';
import type { FileView } from '../client/index.js';
import { batchBody, inputFormat, readFlagFiles } from './args.js';
import type { CommandInput, Context } from './context.js';
import { UsageError } from './errors.js';
import { formatCount } from './format.js';

/**
 * submit, estimate and validate share this: the request body from the flags, then FILE uploaded
 * (streamed from disk, JSONL or CSV alike) and named by `input_file_id`. Every flag is checked
 * before anything is sent.
 */
export async function batchRequest(ctx: Context, { flags, positionals }: CommandInput): Promise<{ body: Record<string, unknown>; file: FileView }> {
  const path = positionals[0]!;
  const format = inputFormat(path);
  const body = batchBody(flags, await readFlagFiles(flags));
  let bytes: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new UsageError(`FILE ${path} is not a file`);
    bytes = s.size;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`FILE ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  ctx.out.note(`uploading ${path} (${formatBytes(bytes)})`);
  const file = await ctx.bulk.files.upload({ path, format, signal: ctx.signal });
  ctx.out.note(`uploaded ${formatCount(file.line_count)} item${file.line_count === 1 ? '' : 's'} as ${file.id}`);
  return { body: { ...body, input_file_id: file.id }, file };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}
