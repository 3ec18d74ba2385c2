import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import type { LimitsParams } from '../client/index.js';
import { UsageError } from './errors.js';

/**
 * The command line, from argv to flag values. Pure functions, so every flag's meaning is
 * unit-tested without a server. A bad flag throws UsageError naming it; `batch-request.ts` builds
 * the request body from these values.
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
  sample: { type: 'string' },
  yes: { type: 'boolean', short: 'y' },
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
      if (/ambiguous/.test(e.message ?? ''))
        return new UsageError(`${flag} needs a value; for a value starting with "-" write ${flag}=VALUE`, command);
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
  if (!name.trim() || !type.trim())
    throw new UsageError(
      `--field ${JSON.stringify(text)}: write name:type, or name:categorical:value1|value2 (types: ${ENRICH_TYPES.join(', ')})`,
    );
  const t = choice(type.trim(), ENRICH_TYPES, `--field ${name.trim()}: the type`);
  const values = rest
    .join(':')
    .split('|')
    .map((v) => v.trim())
    .filter(Boolean);
  if (t === 'categorical' && values.length === 0)
    throw new UsageError(
      `--field ${JSON.stringify(text)}: a categorical field needs its values, e.g. ${name.trim()}:categorical:low|medium|high`,
    );
  if (t !== 'categorical' && values.length > 0)
    throw new UsageError(`--field ${JSON.stringify(text)}: only categorical fields take values`);
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
