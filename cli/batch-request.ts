import { readFile, stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { strictCompatible, type FileView } from '../client/index.js';
import { OPERATION_NAMES, type OperationName } from '../domain/operations.js';
import {
  bool,
  choice,
  list,
  parseDeadline,
  parseDuration,
  parseField,
  parseMetadata,
  parsePositiveInt,
  parseUsd,
  str,
  type Flags,
} from './args.js';
import type { CommandInput, Context } from './context.js';
import { UsageError } from './errors.js';
import { plural } from './format.js';

/**
 * submit, estimate and validate share this: the request body from the flags, then FILE uploaded
 * (streamed from disk, JSONL or CSV alike) and named by `input_file_id`. Every flag is checked
 * before anything is sent. A `transient` upload (estimate, validate) expires within the hour and
 * is for the caller to delete with `discardUpload` once checked: the checks leave nothing behind.
 */
export async function batchRequest(
  ctx: Context,
  { flags, positionals }: CommandInput,
  { transient = false }: { transient?: boolean } = {},
): Promise<{ body: Record<string, unknown>; file: FileView }> {
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
  if (transient) {
    ctx.out.note(`reading ${path} (${formatBytes(bytes)})`);
    const file = await ctx.bulk.files.upload({ path, format, expiresAfterSeconds: TRANSIENT_FILE_SECONDS, signal: ctx.signal });
    return { body: { ...body, input_file_id: file.id }, file };
  }
  ctx.out.note(`uploading ${path} (${formatBytes(bytes)})`);
  const file = await ctx.bulk.files.upload({ path, format, signal: ctx.signal });
  ctx.out.note(`uploaded ${plural(file.line_count, 'line')} as ${file.id}`);
  return { body: { ...body, input_file_id: file.id }, file };
}

/** A checked file's upload lives an hour at most, should the delete after the check never come (Ctrl-C, a lost connection). */
const TRANSIENT_FILE_SECONDS = 3600;

/** Deletes a transient upload; a failure is only noted, since the file expires by itself within the hour. */
export async function discardUpload(ctx: Context, file: FileView): Promise<void> {
  try {
    await ctx.bulk.files.delete(file.id);
  } catch (err) {
    ctx.out.note(
      `could not delete the temporary upload ${file.id} (${(err as Error).message}); it expires by itself at ${file.expires_at}`,
    );
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

/** Flags that only one operation takes: giving one names the operation, so --operation may be left out. */
const OPERATION_FLAGS: Record<string, OperationName> = {
  categories: 'classify',
  'multi-label': 'classify',
  instructions: 'classify',
  'extraction-instructions': 'extract',
  'summary-instructions': 'summarize',
  'max-words': 'summarize',
  fields: 'enrich',
  field: 'enrich',
};

/** JSON files named by flags, read before the body is built (`readFlagFiles`). */
export interface FlagFiles {
  spec?: unknown;
  schema?: { path: string; value: unknown } | undefined;
  fields?: unknown;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function given(flags: Flags, name: string): boolean {
  const v = flags[name];
  return v !== undefined && !(Array.isArray(v) && v.length === 0) && v !== false;
}

function operationOf(flags: Flags, spec: Record<string, unknown>): OperationName | undefined {
  const named = str(flags, 'operation');
  const explicit = named === undefined ? undefined : choice(named, OPERATION_NAMES, '--operation');
  const implied = Object.entries(OPERATION_FLAGS).filter(([flag]) => given(flags, flag));
  for (const [flag, op] of implied) {
    if (explicit !== undefined && explicit !== op) throw new UsageError(`--${flag} is a flag of --operation ${op}, not ${explicit}`);
  }
  const ops = [...new Set(implied.map(([, op]) => op))];
  if (explicit === undefined && ops.length > 1) {
    throw new UsageError(
      `${implied.map(([f]) => `--${f}`).join(', ')} belong to different operations (${ops.join(', ')}): give one --operation`,
    );
  }
  if (explicit !== undefined) return explicit;
  if (ops[0] !== undefined) {
    if (typeof spec.operation === 'string' && spec.operation !== ops[0]) {
      throw new UsageError(`--${implied[0]![0]} is a flag of --operation ${ops[0]}, but --spec says operation ${spec.operation}`);
    }
    return ops[0];
  }
  return typeof spec.operation === 'string' && (OPERATION_NAMES as readonly string[]).includes(spec.operation)
    ? (spec.operation as OperationName)
    : undefined;
}

/** A `response_format.json_schema.name` from a file name: `invoice.schema.json` → `invoice_schema`. */
export function schemaName(path: string): string {
  const name = basename(path, extname(path))
    .replace(/[^a-zA-Z0-9_-]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 64);
  return name || 'output';
}

/**
 * `--schema FILE` for plain prompts: a JSON Schema becomes a `json_schema` response format
 * (strict when the schema allows it). A file already shaped as a response format, or as its
 * `json_schema` part ({name, schema, strict}), is taken as it is.
 */
export function responseFormatFrom(value: unknown, path: string): Record<string, unknown> {
  if (!isRecord(value)) throw new UsageError(`--schema ${path} must hold a JSON object (a JSON Schema)`);
  if (value.type === 'json_schema' && isRecord(value.json_schema)) return value;
  if (isRecord(value.schema) && value.type === undefined && value.properties === undefined) {
    return { type: 'json_schema', json_schema: { name: schemaName(path), ...value } };
  }
  const { $schema: _dialect, ...schema } = value;
  return { type: 'json_schema', json_schema: { name: schemaName(path), schema, ...(strictCompatible(schema) ? { strict: true } : {}) } };
}

function fieldsFrom(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (isRecord(value) && Array.isArray(value.fields)) return value.fields;
  throw new UsageError(
    '--fields FILE must hold a JSON array of fields ([{"name", "type", "valid_values"?, "description"?}]) or {"fields": [...]}',
  );
}

const setIf = (body: Record<string, unknown>, key: string, value: unknown) => {
  if (value !== undefined) body[key] = value;
};

/**
 * The body of `POST /v1/batches` (and of estimate and validate) without its items: `--spec`'s
 * object with every flag given laid over it. Only the shape of each flag is checked here; what
 * the values mean (a known model, categories that differ) is the API's to judge, so the answer
 * names every problem at once.
 */
export function batchBody(flags: Flags, files: FlagFiles = {}): Record<string, unknown> {
  if (files.spec !== undefined && !isRecord(files.spec)) throw new UsageError('--spec FILE must hold a JSON object of request fields');
  const spec = (files.spec ?? {}) as Record<string, unknown>;
  if ('items' in spec || 'input_file_id' in spec)
    throw new UsageError('--spec must not hold items or input_file_id: the items come from FILE');
  const body: Record<string, unknown> = { ...spec };

  setIf(body, 'model', str(flags, 'model'));
  setIf(body, 'system_prompt', str(flags, 'system-prompt'));
  setIf(body, 'user_prompt_template', str(flags, 'prompt'));
  const mode = str(flags, 'mode');
  if (mode !== undefined) body.mode = choice(mode, ['auto', 'batch', 'realtime'], '--mode');
  const onExhausted = str(flags, 'on-budget-exhausted');
  if (onExhausted !== undefined) body.on_budget_exhausted = choice(onExhausted, ['wait', 'stop'], '--on-budget-exhausted');
  setIf(body, 'webhook_url', str(flags, 'webhook-url'));
  setIf(body, 'idempotency_key', str(flags, 'idempotency-key'));
  const maxCost = str(flags, 'max-cost');
  if (maxCost !== undefined) body.max_cost_usd = parseUsd(maxCost);
  const sample = str(flags, 'sample');
  if (sample !== undefined) body.sample = { size: parsePositiveInt(sample, '--sample') };
  for (const [flag, key] of [
    ['chunk-size', 'chunk_size'],
    ['max-parallel-chunks', 'max_parallel_chunks'],
    ['max-attempts', 'max_attempts'],
    ['max-output-tokens', 'max_output_tokens'],
  ] as const) {
    const v = str(flags, flag);
    if (v !== undefined) body[key] = parsePositiveInt(v, `--${flag}`);
  }

  const deadline = str(flags, 'deadline');
  const timeLimit = str(flags, 'time-limit');
  if (deadline !== undefined && timeLimit !== undefined) throw new UsageError('give --deadline or --time-limit, not both');
  // The API refuses both at once, so a flag replaces the other form from --spec as well.
  if (deadline !== undefined) {
    body.deadline = parseDeadline(deadline);
    delete body.time_limit_seconds;
  }
  if (timeLimit !== undefined) {
    body.time_limit_seconds = parseDuration(timeLimit);
    delete body.deadline;
  }

  const metadata = list(flags, 'metadata');
  if (metadata.length > 0) body.metadata = { ...(isRecord(spec.metadata) ? spec.metadata : {}), ...parseMetadata(metadata) };

  const operation = operationOf(flags, spec);
  if (str(flags, 'operation') !== undefined || (operation !== undefined && operation !== spec.operation)) body.operation = operation;
  switch (operation) {
    case 'classify': {
      const categories = list(flags, 'categories')
        .flatMap((c) => c.split(','))
        .map((c) => c.trim())
        .filter(Boolean);
      if (given(flags, 'categories')) body.categories = categories;
      if (bool(flags, 'multi-label')) body.multi_label = true;
      setIf(body, 'instructions', str(flags, 'instructions'));
      break;
    }
    case 'extract':
      setIf(body, 'extraction_instructions', str(flags, 'extraction-instructions'));
      if (files.schema) {
        if (!isRecord(files.schema.value)) throw new UsageError(`--schema ${files.schema.path} must hold a JSON object (a JSON Schema)`);
        const { $schema: _dialect, ...schema } = files.schema.value;
        body.schema = schema;
      }
      break;
    case 'summarize': {
      setIf(body, 'summary_instructions', str(flags, 'summary-instructions'));
      const maxWords = str(flags, 'max-words');
      if (maxWords !== undefined) body.max_words = parsePositiveInt(maxWords, '--max-words');
      break;
    }
    case 'enrich': {
      const fromFile = files.fields === undefined ? [] : fieldsFrom(files.fields);
      const fromFlags = list(flags, 'field').map(parseField);
      if (fromFile.length + fromFlags.length > 0) body.fields = [...fromFile, ...fromFlags];
      break;
    }
    case 'run':
    case undefined:
      if (files.schema) body.response_format = responseFormatFrom(files.schema.value, files.schema.path);
      break;
  }
  if (files.schema && operation !== 'extract' && operation !== 'run' && operation !== undefined) {
    throw new UsageError(`--schema is for --operation extract (the extraction schema) or run (the output schema), not ${operation}`);
  }
  if (typeof body.model !== 'string' || body.model === '')
    throw new UsageError('--model is required (or "model" in --spec), e.g. --model gpt-4.1-mini');
  return body;
}

/** Reads and parses the JSON files the flags name; a missing or malformed file is a usage error naming its flag. */
export async function readFlagFiles(flags: Flags): Promise<FlagFiles> {
  const files: FlagFiles = {};
  const specPath = str(flags, 'spec');
  if (specPath !== undefined) files.spec = await readJson(specPath, '--spec');
  const schemaPath = str(flags, 'schema');
  if (schemaPath !== undefined) files.schema = { path: schemaPath, value: await readJson(schemaPath, '--schema') };
  const fieldsPath = str(flags, 'fields');
  if (fieldsPath !== undefined) files.fields = await readJson(fieldsPath, '--fields');
  return files;
}

async function readJson(path: string, flag: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`${flag} ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${flag} ${path} is not valid JSON: ${(err as Error).message}`);
  }
}

/** The item file's format, from its extension. */
export function inputFormat(path: string): 'jsonl' | 'csv' {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  throw new UsageError(`FILE ${path} must end in .jsonl, .ndjson or .csv (one item per line, or CSV rows with an "id" column)`);
}
