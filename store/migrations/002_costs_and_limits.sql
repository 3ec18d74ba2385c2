-- Cost truth and live limits. Prices are resolved once at submit and stored with the batch, so a
-- batch is billed by the table it was accepted under, whatever the price data says later.

ALTER TABLE batches
  ADD COLUMN pricing            jsonb,
  ADD COLUMN max_cost_usd       numeric,
  ADD COLUMN deadline           timestamptz,
  ADD COLUMN on_budget_exhausted text NOT NULL DEFAULT 'wait',
  ADD COLUMN cost_usd           numeric NOT NULL DEFAULT 0,
  ADD COLUMN estimated_cost_usd numeric;

-- Estimated prompt tokens per item, counted once at intake: what budgets reserve against.
ALTER TABLE items ADD COLUMN est_input_tokens integer NOT NULL DEFAULT 0;

ALTER TABLE chunks
  ADD COLUMN est_input_tokens bigint NOT NULL DEFAULT 0,
  ADD COLUMN est_cost_usd     numeric NOT NULL DEFAULT 0,
  ADD COLUMN max_cost_usd     numeric NOT NULL DEFAULT 0;

-- A row keeps the cost of its latest attempt and, separately, what earlier attempts of the same
-- item cost, so a retried collect can rewrite its attempt without double counting and the
-- batch's spend is exactly the sum over its rows.
ALTER TABLE results
  ADD COLUMN cost_usd       numeric NOT NULL DEFAULT 0,
  ADD COLUMN prior_cost_usd numeric NOT NULL DEFAULT 0,
  ADD COLUMN prior_usage    jsonb;

ALTER TABLE results DROP CONSTRAINT results_status_check;
ALTER TABLE results ADD CONSTRAINT results_status_check CHECK (status IN ('pending', 'succeeded', 'failed', 'cancelled'));

-- Token usage objects add field by field; NULL is "nothing yet".
CREATE FUNCTION add_usage(a jsonb, b jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a ELSE jsonb_build_object(
    'input_tokens', COALESCE((a->>'input_tokens')::bigint, 0) + COALESCE((b->>'input_tokens')::bigint, 0),
    'cached_input_tokens', COALESCE((a->>'cached_input_tokens')::bigint, 0) + COALESCE((b->>'cached_input_tokens')::bigint, 0),
    'output_tokens', COALESCE((a->>'output_tokens')::bigint, 0) + COALESCE((b->>'output_tokens')::bigint, 0),
    'reasoning_tokens', COALESCE((a->>'reasoning_tokens')::bigint, 0) + COALESCE((b->>'reasoning_tokens')::bigint, 0)) END
$$;
