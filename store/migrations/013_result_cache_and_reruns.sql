-- A tenant's memory of answers it already paid for: an item whose request (provider, model,
-- rendered messages, schema, output cap: the key is a SHA-256 of all of it, never of a secret)
-- was answered before is answered from here at no cost. Entries expire; an admin can purge them.
CREATE TABLE result_cache (
  tenant_id        text NOT NULL,
  key              text NOT NULL,
  output           jsonb,
  citations        jsonb,
  usage            jsonb,
  cost_usd         numeric NOT NULL DEFAULT 0,
  source_batch_id  text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  expires_at       timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, key)
);
-- Expired rows are swept by age, across tenants.
CREATE INDEX result_cache_expires ON result_cache (expires_at);

-- The key of each item's request, computed once by the worker before the batch is planned, so
-- collects can remember answers with one statement (NULL: the batch does not use the cache).
ALTER TABLE items ADD COLUMN cache_key text;

-- A result answered from the cache names the batch that paid for it (path 'cache').
ALTER TABLE results ADD COLUMN cached_from text;

-- What the cache answered, and what it saved, for the batch's status; and the batch a rerun
-- was made from (its reruns are found through the index).
ALTER TABLE batches
  ADD COLUMN cache_hits      integer NOT NULL DEFAULT 0,
  ADD COLUMN cache_saved_usd numeric NOT NULL DEFAULT 0,
  ADD COLUMN rerun_of        text REFERENCES batches (id) ON DELETE SET NULL;
CREATE INDEX batches_rerun_of ON batches (rerun_of) WHERE rerun_of IS NOT NULL;
