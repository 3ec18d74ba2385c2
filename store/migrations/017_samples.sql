-- Sample first, then approve: the items a batch's sample took (picked by a hash of the batch id and
-- position, so a retried pick takes the same ones) and what the sample showed. Sampled items get
-- their results like any other; the chunks skip them, since they already have a final outcome.
CREATE TABLE sample_items (
  batch_id  text NOT NULL REFERENCES batches(id) ON DELETE CASCADE,
  seq       integer NOT NULL,
  PRIMARY KEY (batch_id, seq)
);

CREATE TABLE batch_samples (
  batch_id             text PRIMARY KEY REFERENCES batches(id) ON DELETE CASCADE,
  size                 integer NOT NULL,
  succeeded            integer NOT NULL,
  failed               integer NOT NULL,
  cost_usd             numeric NOT NULL,
  projected_total_usd  numeric NOT NULL,
  created_at           timestamptz NOT NULL DEFAULT now()
);
