import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { strictCompatible, type LimitsParams } from '../client/index.js';
import { OPERATION_NAMES, type OperationName } from '../domain/operations.js';
import { UsageError } from './errors.js';

/**
 * The command line, from argv to request bodies. Pure functions (apart from `readFlagFiles`), so
 * every flag's meaning is unit-tested without a server. A bad flag throws UsageError naming it.
 */

export type FlagValue = string | boolean | Array<string | boolean> | undefined;
export type Flags = Record<string, FlagValue>;

/** Flags every command takes, before or after the command name. */
export const GLOBAL_OPTIONS = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  'no-color': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const satisfies ParseArgsOptionsConfig;

/** The flags of submit, estimate and validate: everything a batch request can say. */
export const BATCH_OPTIONS = {
  spec: { type: 'string' },
  model: { type: 'string', short: 'm' },
  operation: { type: 'string' },
  categories: { type: 'string', multiple: true },
  'multi-label': { type: 'boolean' },
  instructions: { type: 'string' },
  'extraction-instructions': { type: 'string' },
  schema: { type: 'string' },
  'summary-instructions': { type: 'string' },
  'max-words': { type: 'string' },
  fields: { type: 'string' },
  field: { type: 'string', multiple: true },
  'system-prompt': { type: 'string' },
  prompt: { type: 'string' },
  mode: { type: 'string' },
  'max-cost': { type: 'string' },
  deadline: { type: 'string' },
  'time-limit': { type: 'string' },
  'on-budget-exhausted': { type: 'string' },
  'webhook-url': { type: 'string' },
  'idempotency-key': { type: 'string' },
  metadata: { type: 'string', multiple: true },
  'chunk-size': { type: 'string' },
  'max-parallel-chunks': { type: 'string' },
  'max-attempts': { type: 'string' },
  'max-output-tokens': { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;

const GLOBAL_WITH_VALUE = new Set(['--url', '--api-key']);

/**
 * Finds the command name among the arguments: the first word that is neither a flag nor the
 * value of a global flag, so `drover --url http://x status ID` and `drover status ID --url …`
 * both work.
 */
export function splitCommand(argv: readonly string[]): { command: string | undefined; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return { command: undefined, rest: [...argv] };
    if (GLOBAL_WITH_VALUE.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith('-') && a !== '-') continue;
    return { command: a, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
  }
  return { command: undefined, rest: [...argv] };
}

export interface Parsed {
  flags: Flags;
  positionals: string[];
}

/** node:util parseArgs, with its errors turned into a UsageError that names the flag and the command. */
export function parseFlags(command: string | undefined, argv: readonly string[], options: ParseArgsOptionsConfig): Parsed {
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    return { flags: values as Flags, positionals };
  } catch (err) {
    throw usageFromParseError(err, command);
  }
}

function usageFromParseError(err: unknown, command: string | undefined): UsageError {
  const e = err as { code?: string; message?: string };
  // The message quotes the flag as typed, or as `-m, --model <value>`: name the long form.
  const quoted = /'([^']+)'/.exec(e.message ?? '')?.[1] ?? '';
  const flag = /--[^\s,=<']+/.exec(quoted)?.[0] ?? /-[^\s,=<']+/.exec(quoted)?.[0];
  const where = command ? ` for \`drover ${command}\`` : '';
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(`unknown flag ${flag ?? ''}${where}`.trim(), command);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(e.message ?? '')) return new UsageError(`${flag} takes no value`, command);
      if (/ambiguous/.test(e.message ?? '')) return new UsageError(`${flag} needs a value; for a value starting with "-" write ${flag}=VALUE`, command);
      return new UsageError(`${flag ?? 'a flag'} needs a value`, command);
    default:
      return new UsageError(e.message ?? String(err), command);
  }
}

// ---------------------------------------------------------------------------
// Flag values
// ---------------------------------------------------------------------------

export function str(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  if (Array.isArray(v)) return v.length ? String(v[v.length - 1]) : undefined;
  return typeof v === 'string' ? v : undefined;
}

export function bool(flags: Flags, name: string): boolean {
  return flags[name] === true;
}

export function list(flags: Flags, name: string): string[] {
  const v = flags[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
}

/** `30m`, `2h`, `90s`, `1h30m`, `1d`, or bare seconds: whole seconds, at least 1. */
export function parseDuration(text: string, flag = '--time-limit'): number {
  const t = text.trim().toLowerCase();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    if (n > 0) return n;
  } else if (/^(\d+(\.\d+)?[dhms])+$/.test(t)) {
    const unit: Record<string, number> = { d: 86_400, h: 3_600, m: 60, s: 1 };
    let seconds = 0;
    for (const [, n, , u] of t.matchAll(/(\d+(\.\d+)?)([dhms])/g)) seconds += Number(n) * unit[u!]!;
    const whole = Math.round(seconds);
    if (whole > 0) return whole;
  }
  throw new UsageError(`${flag} ${JSON.stringify(text)} is not a duration: write e.g. 90s, 30m, 2h, 1h30m or 1d`);
}

/** A dollar amount above zero; a leading `$` is allowed. */
export function parseUsd(text: string, flag = '--max-cost'): number {
  const t = text.trim().replace(/^\$/, '');
  const n = /^\d+(\.\d+)?$|^\.\d+$/.test(t) ? Number(t) : NaN;
  if (!(n > 0)) throw new UsageError(`${flag} ${JSON.stringify(text)} is not an amount in USD above 0 (e.g. 25 or 0.50)`);
  return n;
}

export function parsePositiveInt(text: string, flag: string): number {
  const t = text.trim();
  const n = /^\d+$/.test(t) ? Number(t) : NaN;
  if (!(n >= 1) || !Number.isSafeInteger(n)) throw new UsageError(`${flag} ${JSON.stringify(text)} is not a whole number above 0`);
  return n;
}

/**
 * An ISO 8601 time, sent with an explicit offset: the API needs one, and a time typed without
 * it (`2025-06-01T18:00`) means the user's local time, which only this machine knows.
 */
export function parseDeadline(text: string, flag = '--deadline'): string {
  const t = text.trim();
  const ms = /^\d{4}-\d{2}-\d{2}/.test(t) ? Date.parse(t) : NaN;
  if (Number.isNaN(ms)) throw new UsageError(`${flag} ${JSON.stringify(text)} is not an ISO 8601 time (e.g. 2025-06-01T18:00:00Z)`);
  return new Date(ms).toISOString();
}

export function choice<T extends string>(text: string, allowed: readonly T[], flag: string): T {
  if ((allowed as readonly string[]).includes(text)) return text as T;
  throw new UsageError(`${flag} ${JSON.stringify(text)} is not one of ${allowed.join(', ')}`);
}

export const ENRICH_TYPES = ['string', 'number', 'boolean', 'categorical'] as const;

/** `--field name:type[:v1|v2|…]`: one enrich field; the values are a categorical field's allowed answers. */
export function parseField(text: string): Record<string, unknown> {
  const [name = '', type = '', ...rest] = text.split(':');
  if (!name.trim() || !type.trim()) throw new UsageError(`--field ${JSON.stringify(text)}: write name:type, or name:categorical:value1|value2 (types: ${ENRICH_TYPES.join(', ')})`);
  const t = choice(type.trim(), ENRICH_TYPES, `--field ${name.trim()}: the type`);
  const values = rest
    .join(':')
    .split('|')
    .map((v) => v.trim())
    .filter(Boolean);
  if (t === 'categorical' && values.length === 0) throw new UsageError(`--field ${JSON.stringify(text)}: a categorical field needs its values, e.g. ${name.trim()}:categorical:low|medium|high`);
  if (t !== 'categorical' && values.length > 0) throw new UsageError(`--field ${JSON.stringify(text)}: only categorical fields take values`);
  return { name: name.trim(), type: t, ...(values.length ? { valid_values: values } : {}) };
}

/** `--metadata k=v`, repeatable: string values, later ones win. */
export function parseMetadata(entries: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of entries) {
    const eq = e.indexOf('=');
    if (eq <= 0) throw new UsageError(`--metadata ${JSON.stringify(e)} is not key=value`);
    out[e.slice(0, eq).trim()] = e.slice(eq + 1);
  }
  return out;
}

// ---------------------------------------------------------------------------
// The batch request
// ---------------------------------------------------------------------------

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
    throw new UsageError(`${implied.map(([f]) => `--${f}`).join(', ')} belong to different operations (${ops.join(', ')}): give one --operation`);
  }
  if (explicit !== undefined) return explicit;
  if (ops[0] !== undefined) {
    if (typeof spec.operation === 'string' && spec.operation !== ops[0]) {
      throw new UsageError(`--${implied[0]![0]} is a flag of --operation ${ops[0]}, but --spec says operation ${spec.operation}`);
    }
    return ops[0];
  }
  return typeof spec.operation === 'string' && (OPERATION_NAMES as readonly string[]).includes(spec.operation) ? (spec.operation as OperationName) : undefined;
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
  throw new UsageError('--fields FILE must hold a JSON array of fields ([{"name", "type", "valid_values"?, "description"?}]) or {"fields": [...]}');
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
  if ('items' in spec || 'input_file_id' in spec) throw new UsageError('--spec must not hold items or input_file_id: the items come from FILE');
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
  if (typeof body.model !== 'string' || body.model === '') throw new UsageError('--model is required (or "model" in --spec), e.g. --model gpt-4.1-mini');
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

// ---------------------------------------------------------------------------
// drover limits
// ---------------------------------------------------------------------------

export const LIMITS_OPTIONS = {
  'max-cost': { type: 'string' },
  deadline: { type: 'string' },
  'time-limit': { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;

/** `--max-cost USD|none --deadline ISO|none --time-limit 30m`: `none` removes a limit. */
export function limitsFromFlags(flags: Flags): LimitsParams {
  const out: LimitsParams = {};
  const maxCost = str(flags, 'max-cost');
  const deadline = str(flags, 'deadline');
  const timeLimit = str(flags, 'time-limit');
  if (maxCost !== undefined) out.max_cost_usd = maxCost.trim().toLowerCase() === 'none' ? null : parseUsd(maxCost);
  if (deadline !== undefined && timeLimit !== undefined) throw new UsageError('give --deadline or --time-limit, not both');
  if (deadline !== undefined) out.deadline = deadline.trim().toLowerCase() === 'none' ? null : parseDeadline(deadline);
  if (timeLimit !== undefined) out.time_limit_seconds = parseDuration(timeLimit);
  if (Object.keys(out).length === 0) throw new UsageError('give at least one of --max-cost, --deadline, --time-limit', 'limits');
  return out;
}
