import { Ajv } from 'ajv';

const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });

/** Returns the reasons a user's JSON Schema cannot be used, or [] when it compiles. */
export function jsonSchemaProblems(schema: unknown): string[] {
  if (typeof schema !== 'object' || schema === null) return ['(schema) must be an object'];
  if (!ajv.validateSchema(schema as object)) {
    return (ajv.errors ?? []).map((e) => `${e.instancePath || '(schema)'} ${e.message ?? 'is invalid'}`);
  }
  try {
    ajv.compile(schema as object);
    return [];
  } catch (err) {
    return [(err as Error).message];
  }
}
