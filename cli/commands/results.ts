import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { once } from 'node:events';
import { isTerminal, ResultStatus } from '../../client/index.js';
import { choice, str } from '../args.js';
import type { Command, Context } from '../context.js';
import { UsageError } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import { formatBytes } from '../batch-request.js';
import { formatCount } from '../format.js';

const FORMATS = ['json', 'jsonl', 'csv'] as const;
type Format = (typeof FORMATS)[number];

/** With --out and no --format, the file's extension decides; anything else gets JSONL. */
export function formatFor(flag: string | undefined, out: string | undefined, json: boolean): Format {
  if (flag !== undefined) return choice(flag, FORMATS, '--format');
  if (out !== undefined) {
    const ext = extname(out).toLowerCase();
    return ext === '.csv' ? 'csv' : ext === '.json' ? 'json' : 'jsonl';
  }
  return json ? 'json' : 'jsonl';
}

export const results: Command = {
  name: 'results',
  summary: 'export the results of a batch (JSONL, JSON or CSV) to a file or stdout',
  usage: 'drover results ID [--format json|jsonl|csv] [--out FILE] [--status STATUS]',
  args: { min: 1, max: 1 },
  options: { format: { type: 'string', short: 'f' }, out: { type: 'string', short: 'o' }, status: { type: 'string' } },
  help: `One row per item: id, status, output, error, usage, cost_usd, metadata. Rows are streamed,
never held in memory, so any size works.

  -f, --format F     jsonl (one row per line), json (one array) or csv (JSON outputs flattened
                     into output.<field> columns). Default: from --out's extension (.csv, .json,
                     else jsonl); on stdout jsonl (json under --json)
  -o, --out FILE     write FILE (complete or not at all: written to FILE.partial, then renamed)
  --status S         only rows in this status: ${ResultStatus.options.join(', ')}

A batch still running has pending rows (no output yet).

Examples
  drover results batch_123 --out results.csv
  drover results batch_123 --status failed | jq -r '.id + " " + .error.message'
  drover results batch_123 --format json > results.json`,
  async run(ctx, { flags, positionals }) {
    const id = positionals[0]!;
    const out = str(flags, 'out');
    const format = formatFor(str(flags, 'format'), out, ctx.out.json);
    if (ctx.out.json && out === undefined && format !== 'json') {
      throw new UsageError(`--json prints one JSON document: use --format json, or --out FILE for ${format}`, 'results');
    }
    const s = str(flags, 'status');
    const status = s === undefined ? undefined : choice(s, ResultStatus.options, '--status');
    if (ctx.out.chatty) {
      const batch = await ctx.client.batches.retrieve(id, { signal: ctx.signal });
      if (!isTerminal(batch.status))
        ctx.out.note(`batch ${id} is still ${batch.status}: ${formatCount(batch.counts.pending)} rows are pending`);
    }
    if (out !== undefined) return toFile(ctx, id, format, out, status);
    if (format === 'csv') await csvToStdout(ctx, id, status);
    else await rowsToStdout(ctx, id, format, status);
    return EXIT.ok;
  },
};

async function toFile(ctx: Context, id: string, format: Format, path: string, status: ResultStatus | undefined): Promise<number> {
  let bytes: number;
  let rows: number | undefined;
  if (format === 'json') ({ bytes, rows } = await jsonArrayToFile(ctx, id, path, status));
  else ({ bytes } = await ctx.client.batches.downloadOutput(id, { format, path, status, signal: ctx.signal }));
  const doc = { object: 'export', batch_id: id, format, path, bytes, ...(rows !== undefined ? { rows } : {}) };
  if (ctx.out.json) ctx.out.document(doc);
  else ctx.out.note(`wrote ${path} (${formatBytes(bytes)}${rows !== undefined ? `, ${formatCount(rows)} rows` : ''})`);
  return EXIT.ok;
}

/** A JSON array, one row per line inside it, written as rows arrive; FILE appears only when complete. */
async function jsonArrayToFile(
  ctx: Context,
  id: string,
  path: string,
  status: ResultStatus | undefined,
): Promise<{ bytes: number; rows: number }> {
  const partial = `${path}.partial`;
  const file = createWriteStream(partial);
  let bytes = 0;
  let rows = 0;
  const write = async (s: string) => {
    bytes += Buffer.byteLength(s);
    if (!file.write(s)) await once(file, 'drain');
  };
  try {
    await write('[');
    for await (const row of ctx.client.batches.iterOutput(id, { status, signal: ctx.signal })) {
      await write(`${rows === 0 ? '\n' : ',\n'}${JSON.stringify(row)}`);
      rows++;
    }
    await write(rows === 0 ? ']\n' : '\n]\n');
    file.end();
    await once(file, 'close');
    await rename(partial, path);
  } catch (err) {
    file.destroy();
    await rm(partial, { force: true });
    throw err;
  }
  return { bytes, rows };
}

async function rowsToStdout(ctx: Context, id: string, format: 'json' | 'jsonl', status: ResultStatus | undefined): Promise<void> {
  let n = 0;
  if (format === 'json') await ctx.out.write('[');
  for await (const row of ctx.client.batches.iterOutput(id, { status, signal: ctx.signal })) {
    const text = JSON.stringify(row);
    await ctx.out.write(format === 'json' ? `${n === 0 ? '\n' : ',\n'}${text}` : `${text}\n`);
    n++;
  }
  if (format === 'json') await ctx.out.write(n === 0 ? ']\n' : '\n]\n');
}

/**
 * The client streams the CSV export only into a file, so it goes through a temporary one: the
 * server's flattening of outputs into columns is then used as is, never redone here.
 */
async function csvToStdout(ctx: Context, id: string, status: ResultStatus | undefined): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'drover-results-'));
  try {
    const path = join(dir, `${id}.csv`);
    await ctx.client.batches.downloadOutput(id, { format: 'csv', path, status, signal: ctx.signal });
    for await (const chunk of createReadStream(path)) await ctx.out.write(chunk as Buffer);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
