/**
 * Gemini's `responseSchema` is an OpenAPI 3.0 subset: upper-case `type`s (`OBJECT`, `STRING`, …),
 * `nullable`, int64 bounds sent as strings (`"minItems": "2"`) and `propertyOrdering`. Converting
 * it to JSON Schema lets one sampler serve every provider. Pure.
 *
 * Property order follows `propertyOrdering`, and otherwise is alphabetical, which is the order the
 * real API generates properties in; the sampler emits properties in schema order.
 */
import { isObject, type Json } from '../json.js';

const NUMERIC = ['minimum', 'maximum', 'minItems', 'maxItems', 'minLength', 'maxLength', 'minProperties', 'maxProperties'] as const;
const COPIED = ['format', 'pattern', 'required', 'title', 'description', 'default'] as const;

export function openApiToJsonSchema(schema: unknown): Json {
  if (!isObject(schema)) return {};
  const out: Json = {};
  const type = typeof schema.type === 'string' ? schema.type.toLowerCase() : undefined;
  const nullable = schema.nullable === true;
  if (type !== undefined && type !== 'type_unspecified') out.type = nullable ? [type, 'null'] : type;
  if (Array.isArray(schema.enum)) out.enum = nullable ? [...schema.enum, null] : [...schema.enum];
  for (const key of COPIED) if (schema[key] !== undefined) out[key] = schema[key];
  for (const key of NUMERIC) {
    const v = schema[key];
    const n = typeof v === 'string' ? Number(v) : v;
    if (typeof n === 'number' && Number.isFinite(n)) out[key] = n;
  }
  if (isObject(schema.items)) out.items = openApiToJsonSchema(schema.items);
  if (Array.isArray(schema.anyOf)) out.anyOf = schema.anyOf.map(openApiToJsonSchema);
  if (isObject(schema.properties)) {
    const props = schema.properties;
    const ordering = Array.isArray(schema.propertyOrdering)
      ? schema.propertyOrdering.filter((k): k is string => typeof k === 'string' && k in props)
      : [];
    const rest = Object.keys(props)
      .filter((k) => !ordering.includes(k))
      .sort();
    out.properties = Object.fromEntries([...ordering, ...rest].map((k) => [k, openApiToJsonSchema(props[k])]));
  }
  return out;
}
