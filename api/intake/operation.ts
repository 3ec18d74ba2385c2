import type { z } from 'zod';
import { zodIssues, type Issue } from '../../domain/issues.js';
import {
  ClassifyOperation,
  compileOperation,
  EnrichOperation,
  ExtractOperation,
  OPERATION_NAMES,
  SummarizeOperation,
  type StructuredOperation,
} from '../../domain/operations.js';

const SCHEMAS: Record<string, z.ZodObject> = {
  classify: ClassifyOperation,
  extract: ExtractOperation,
  summarize: SummarizeOperation,
  enrich: EnrichOperation,
};

/** The prompt fields an operation writes itself; giving them too would be ambiguous. */
const COMPILED_FIELDS = ['system_prompt', 'user_prompt_template', 'response_format'] as const;

/**
 * A request naming an `operation` (classify, extract, summarize, enrich, run) becomes an ordinary
 * batch: the operation's own fields are taken out, checked, and compiled into the system prompt,
 * the user template and a strict JSON schema. `run` is the plain form and changes nothing.
 */
export function applyOperation(raw: Record<string, unknown>, fromQuery = false): { settings: Record<string, unknown>; issues: Issue[] } {
  const name = raw.operation;
  if (name === undefined) return { settings: raw, issues: [] };
  const { operation: _, ...rest } = raw;
  if (name === 'run') return { settings: rest, issues: [] };
  const schema = typeof name === 'string' ? SCHEMAS[name] : undefined;
  if (!schema)
    return {
      settings: rest,
      issues: [{ path: 'operation', message: `unknown operation ${JSON.stringify(name)}; known: ${OPERATION_NAMES.join(', ')}` }],
    };

  const own: Record<string, unknown> = { operation: name };
  const settings: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rest)) {
    if (key in schema.shape) own[key] = fromQuery ? fromQueryValue(value) : value;
    else settings[key] = value;
  }
  const issues: Issue[] = COMPILED_FIELDS.filter((f) => settings[f] !== undefined).map((f) => ({
    path: f,
    message: `operation ${name} writes ${f} itself; leave it out`,
  }));
  const parsed = schema.safeParse(own);
  if (!parsed.success) return { settings, issues: [...issues, ...zodIssues(parsed.error)] };
  if (issues.length > 0) return { settings, issues };
  const compiled = compileOperation(parsed.data as StructuredOperation);
  return { settings: { ...settings, ...compiled }, issues: [] };
}

/** Query strings carry arrays, objects, numbers and booleans as JSON text. */
function fromQueryValue(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
