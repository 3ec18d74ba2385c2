import { withFieldPaths } from '../domain/citations.js';
import { checkJsonOutput } from '../domain/output-validation.js';
import type { Path } from '../domain/choose-path.js';
import type { CallOutcome } from '../providers/types.js';
import type { NewResult } from '../store/results.js';

/** The longest invalid answer kept with an item's error, for the repair prompt and for the user. */
const RAW_OUTPUT_KEPT = 8000;

/**
 * One call's outcome in store terms. JSON outputs are parsed and checked against the schema;
 * a retryable failure (or an answer that breaks its schema) stays pending until the last attempt,
 * and becomes cancelled when the batch is stopping; an answer cut off at its cap fails at once. Cost is the caller's to add: it depends on the path's price.
 */
export function toResult(
  seq: number,
  line: CallOutcome,
  schema: Record<string, unknown> | null,
  when: { final: boolean; stopping?: boolean },
  path: Path = 'batch',
): Omit<NewResult, 'cost_nanos'> {
  const retryStatus = when.stopping ? 'cancelled' : when.final ? 'failed' : 'pending';
  if (!line.ok) return { seq, status: line.retryable ? retryStatus : 'failed', output: null, error: line.error, usage: line.usage, path };
  const citations = line.citations && line.citations.length > 0 ? { citations: line.citations } : {};
  if (!schema) return { seq, status: 'succeeded', output: line.text, error: null, usage: line.usage, path, ...citations };
  const check = checkJsonOutput(line.text, schema, line.truncated);
  if (check.ok) {
    const mapped = line.citations && line.citations.length > 0 ? { citations: withFieldPaths(check.value, line.citations) } : {};
    return { seq, status: 'succeeded', output: check.value, error: null, usage: line.usage, path, ...mapped };
  }
  return {
    seq,
    // The same request under the same cap would be cut off again: asking twice only pays twice.
    status: check.code === 'output_truncated' ? 'failed' : retryStatus,
    output: null,
    usage: line.usage,
    path,
    error: {
      code: check.code,
      message:
        check.code === 'schema_invalid'
          ? `the answer does not match the schema: ${check.errors.join('; ')}`
          : check.code === 'output_truncated'
            ? `the answer was cut off at the output cap (${line.text.length} chars); raise max_output_tokens`
            : `the model's output is not valid JSON (${line.text.length} chars)`,
      errors: check.errors,
      raw_output: line.text.slice(0, RAW_OUTPUT_KEPT),
    },
  };
}
