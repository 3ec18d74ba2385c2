import { z } from 'zod';
import { BatchSettings, BatchSettingsQuery, ItemInput } from '../../domain/batch-spec.js';
import { ClassifyOperation, EnrichOperation, ExtractOperation, OPERATION_NAMES, SummarizeOperation } from '../../domain/operations.js';

/**
 * The request bodies of batches and completions as the reference shows them. Intake checks them
 * itself (settings and items together, NDJSON line by line, operations compiled first), with
 * messages of its own, so these schemas describe and are never parsed with.
 */

/** The most items the synchronous completions route takes; bigger sets are batches. */
export const MAX_SYNC_ITEMS = 100;

/** An operation's own fields, all optional: in the one flat body each belongs to one operation only. */
const omitOperation = (shape: z.ZodRawShape): Record<string, z.ZodType> => {
  const { operation: _, ...rest } = shape;
  return Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, v instanceof z.ZodOptional ? v : (v as z.ZodType).optional()]));
};

const OperationFields = {
  operation: z.enum(OPERATION_NAMES).optional().meta({
    description: 'A ready-made operation; it writes system_prompt, user_prompt_template and response_format itself (run: give your own).',
  }),
  ...omitOperation(ClassifyOperation.shape),
  ...omitOperation(ExtractOperation.shape),
  ...omitOperation(SummarizeOperation.shape),
  ...omitOperation(EnrichOperation.shape),
};

export const BatchCreateRequest = BatchSettings.extend({
  items: z.array(ItemInput).min(1).optional().meta({ description: 'The items; or give input_file_id.' }),
  input_file_id: z.string().optional().meta({ description: 'An uploaded file (POST /v1/files) instead of items.' }),
  ...OperationFields,
}).meta({
  id: 'BatchCreateRequest',
  description:
    'A batch: settings, then items or input_file_id. Operation fields: categories, multi_label, instructions (classify); extraction_instructions, schema (extract); summary_instructions, max_words (summarize); fields (enrich).',
});

export const CompletionRequest = BatchSettings.omit({
  dry_run: true,
  mode: true,
  idempotency_key: true,
  chunk_size: true,
  max_parallel_chunks: true,
  webhook_url: true,
})
  .extend({
    items: z
      .array(ItemInput.extend({ id: ItemInput.shape.id.optional() }))
      .min(1)
      .max(MAX_SYNC_ITEMS)
      .meta({ description: `1 to ${MAX_SYNC_ITEMS} items; an item without an id gets its position ("0", "1", …).` }),
    ...omitOperation(OperationFields),
  })
  .meta({ id: 'CompletionRequest' });

/** The settings of an NDJSON body, in the query string; a JSON body carries them itself, so none is required here. */
export const NdjsonSettings = BatchSettingsQuery.partial().extend(
  Object.fromEntries(
    Object.keys(OperationFields).map((k) => [
      k,
      z.string().optional().meta({ description: 'Operation field; arrays and objects as JSON text.' }),
    ]),
  ),
);
