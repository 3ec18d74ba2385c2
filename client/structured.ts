import { z } from 'zod';
import { OutputParseError } from './errors.js';
import { zodIssues } from './http.js';
import type { ResultView } from './schemas.js';
import type { ResponseFormatInput } from './types.js';

/** A result row whose output was checked against a zod schema: succeeded rows carry its type. */
export type TypedResult<T> =
  | (Omit<ResultView, 'status' | 'output'> & { status: 'succeeded'; output: T })
  | (Omit<ResultView, 'status' | 'output'> & { status: 'pending' | 'failed' | 'cancelled'; output: unknown });

export interface SchemaOptions {
  /** `response_format.json_schema.name`: letters, digits, `_` or `-`, at most 64. Default `output`. */
  name?: string | undefined;
  description?: string | undefined;
  /**
   * Ask for the provider's strict mode. Default: true when the schema allows it (every object
   * lists all its properties in `required` and forbids others, which is what OpenAI demands);
   * otherwise it is left off. Use `.nullable()` rather than `.optional()` to keep a schema strict.
   */
  strict?: boolean | undefined;
}

export interface StructuredOutput<S extends z.ZodType> {
  schema: S;
  /** The JSON Schema made from `schema`: zod's `z.toJSONSchema` (draft-07, input side), objects closed. */
  jsonSchema: Record<string, unknown>;
  /** Put this in the batch request. */
  response_format: ResponseFormatInput;
  /** Parses a succeeded row's output with the zod schema (transforms and refinements included); other rows pass through. */
  parseRow(row: ResultView): TypedResult<z.output<S>>;
}

/**
 * Builds a batch's `response_format` from a zod schema and parses each row's output back with it.
 *
 * ```ts
 * const Sentiment = withSchema(z.object({ label: z.enum(['positive', 'negative']) }), { name: 'sentiment' });
 * const batch = await client.batches.submitAndWait({ model, items, response_format: Sentiment.response_format });
 * for await (const row of client.batches.iterOutput(batch.id)) {
 *   const typed = Sentiment.parseRow(row);
 *   if (typed.status === 'succeeded') typed.output.label; // 'positive' | 'negative'
 * }
 * ```
 */
export function withSchema<S extends z.ZodType>(schema: S, opts: SchemaOptions = {}): StructuredOutput<S> {
  // The model writes what the schema parses *from*: the input side (a transform's source type).
  const { $schema: _dialect, ...jsonSchema } = closeObjects(
    z.toJSONSchema(schema, { target: 'draft-7', io: 'input', unrepresentable: 'throw' }),
  ) as Json;
  if (jsonSchema.type !== 'object') {
    throw new TypeError(
      `withSchema needs an object schema at the root (providers require it); got ${JSON.stringify(jsonSchema.type ?? 'a schema without a type')}`,
    );
  }
  const strict = opts.strict ?? strictCompatible(jsonSchema);
  const response_format: ResponseFormatInput = {
    type: 'json_schema',
    json_schema: {
      name: opts.name ?? 'output',
      schema: jsonSchema,
      ...(opts.description !== undefined ? { description: opts.description } : {}),
      ...(strict ? { strict: true } : {}),
    },
  };
  return {
    schema,
    jsonSchema,
    response_format,
    parseRow(row) {
      if (row.status !== 'succeeded') return row as TypedResult<z.output<S>>;
      const r = schema.safeParse(row.output);
      if (!r.success) throw new OutputParseError(row.id, row.output, zodIssues(r.error), r.error);
      return { ...row, status: 'succeeded', output: r.data };
    },
  };
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Sets `additionalProperties: false` on every object schema that says nothing about extra keys:
 * `z.object` strips them anyway, and strict providers require it. `z.looseObject` and
 * `.catchall()` state theirs and are left alone.
 */
function closeObjects(s: unknown): unknown {
  if (!isObj(s)) return s;
  const out: Json = { ...s };
  for (const k of ['properties', 'patternProperties', '$defs', 'definitions']) {
    if (isObj(s[k])) out[k] = Object.fromEntries(Object.entries(s[k] as Json).map(([name, v]) => [name, closeObjects(v)]));
  }
  for (const k of ['items', 'additionalProperties', 'not', 'contains', 'if', 'then', 'else', 'propertyNames']) {
    if (isObj(s[k])) out[k] = closeObjects(s[k]);
  }
  for (const k of ['anyOf', 'oneOf', 'allOf', 'prefixItems', 'items']) {
    if (Array.isArray(s[k])) out[k] = (s[k] as unknown[]).map(closeObjects);
  }
  if ((s.type === 'object' || isObj(s.properties)) && !('additionalProperties' in s)) out.additionalProperties = false;
  return out;
}

/** OpenAI's strict rules that zod schemas can break: every object closed and all its properties required. */
export function strictCompatible(s: unknown): boolean {
  if (!isObj(s)) return true;
  const isObject = s.type === 'object' || isObj(s.properties);
  if (isObject) {
    if (s.additionalProperties !== false) return false;
    const keys = isObj(s.properties) ? Object.keys(s.properties) : [];
    const required = Array.isArray(s.required) ? s.required : [];
    if (keys.some((k) => !required.includes(k))) return false;
  }
  const children: unknown[] = [];
  if (isObj(s.properties)) children.push(...Object.values(s.properties));
  if (s.items !== undefined) children.push(...(Array.isArray(s.items) ? s.items : [s.items]));
  for (const k of ['anyOf', 'oneOf', 'allOf', 'prefixItems']) if (Array.isArray(s[k])) children.push(...(s[k] as unknown[]));
  for (const k of ['$defs', 'definitions']) if (isObj(s[k])) children.push(...Object.values(s[k] as Json));
  return children.every(strictCompatible);
}
