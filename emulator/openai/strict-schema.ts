/**
 * The subset of OpenAI's strict structured-output rules that callers most often break: the root is
 * an object, and every object lists all its properties in `required` and sets
 * `additionalProperties: false`. Enforcing them here makes a bad schema fail against the emulator
 * the way it would fail against the real API, instead of only in production.
 */

type Schema = Record<string, unknown>;
const isSchema = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Returns the first rule violation as an OpenAI-style message fragment, or null when the schema passes. */
export function strictSchemaProblem(schema: unknown): string | null {
  if (!isSchema(schema) || schema.type !== 'object') {
    return (
      'In context=(), schema must be a JSON Schema of \'type: "object"\', got \'type: "' +
      String(isSchema(schema) ? schema.type : typeof schema) +
      '"\'.'
    );
  }
  return walk(schema, []);
}

function walk(s: Schema, context: string[]): string | null {
  const where = `In context=(${context.map((c) => `'${c}'`).join(', ')})`;
  const isObject = s.type === 'object' || (Array.isArray(s.type) && s.type.includes('object')) || isSchema(s.properties);
  if (isObject) {
    if (s.additionalProperties !== false) {
      return `${where}, 'additionalProperties' is required to be supplied and to be false.`;
    }
    const keys = isSchema(s.properties) ? Object.keys(s.properties) : [];
    const required = Array.isArray(s.required) ? s.required : [];
    const missing = keys.filter((k) => !required.includes(k));
    if (missing.length > 0) {
      return `${where}, 'required' is required to be supplied and to be an array including every key in properties. Missing '${missing[0]}'.`;
    }
  }
  const children: Array<[string[], unknown]> = [];
  if (isSchema(s.properties)) for (const [k, v] of Object.entries(s.properties)) children.push([['properties', k], v]);
  if (isSchema(s.items)) children.push([['items'], s.items]);
  for (const key of ['anyOf', 'oneOf', 'allOf', 'prefixItems'] as const) {
    const list = s[key];
    if (Array.isArray(list)) list.forEach((v, i) => children.push([[key, String(i)], v]));
  }
  for (const key of ['$defs', 'definitions'] as const) {
    const defs = s[key];
    if (isSchema(defs)) for (const [k, v] of Object.entries(defs)) children.push([[key, k], v]);
  }
  for (const [path, child] of children) {
    if (!isSchema(child)) continue;
    const problem = walk(child, [...context, ...path]);
    if (problem) return problem;
  }
  return null;
}
