import { Ajv, type ValidateFunction } from 'ajv';
import type { ChatMessage } from './batch-spec.js';

const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
const cache = new Map<string, ValidateFunction>();

/** The same schema object (one chunk's answers) finds its validator without serialising the schema per answer. */
const bySchema = new WeakMap<object, ValidateFunction>();

/** A compiled validator per schema text: one batch compiles its schema once. */
function validatorFor(schema: Record<string, unknown>): ValidateFunction {
  const known = bySchema.get(schema);
  if (known) return known;
  const key = JSON.stringify(schema);
  let v = cache.get(key);
  if (!v) {
    v = ajv.compile(schema);
    if (cache.size > 100) cache.clear();
    cache.set(key, v);
  }
  bySchema.set(schema, v);
  return v;
}

export type OutputCheck =
  { ok: true; value: unknown } | { ok: false; code: 'invalid_json' | 'output_truncated' | 'schema_invalid'; errors: string[] };

/** Parses a JSON answer and checks it against the requested schema, with errors a model can act on. */
export function checkJsonOutput(text: string, schema: Record<string, unknown>, truncated: boolean): OutputCheck {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, code: truncated ? 'output_truncated' : 'invalid_json', errors: [`not valid JSON: ${(err as Error).message}`] };
  }
  const validate = validatorFor(schema);
  if (validate(value)) return { ok: true, value };
  const errors = (validate.errors ?? [])
    .slice(0, 10)
    .map(
      (e) =>
        `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}${e.params && 'allowedValues' in e.params ? `: ${JSON.stringify(e.params.allowedValues)}` : ''}`,
    );
  return { ok: false, code: 'schema_invalid', errors };
}

/** The longest previous answer a repair prompt quotes back. */
const MAX_QUOTED = 8000;

/**
 * The follow-up that asks the model to fix an answer: its previous output and the validator's
 * errors, appended to the original conversation.
 */
export function repairMessages(messages: ChatMessage[], previous: string, errors: string[]): ChatMessage[] {
  return [
    ...messages,
    { role: 'assistant', content: previous.slice(0, MAX_QUOTED) },
    {
      role: 'user',
      content: `Your answer did not match the required JSON schema:\n${errors.map((e) => `- ${e}`).join('\n')}\nReply again with only the corrected JSON object.`,
    },
  ];
}
