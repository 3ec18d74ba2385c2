-- Realtime mode: which path each result took, and shared rate-limit buckets that every worker
-- draws from, so a provider's requests-per-minute hold across the whole deployment.

ALTER TABLE batches ADD COLUMN mode text NOT NULL DEFAULT 'auto';
ALTER TABLE results ADD COLUMN path text;

CREATE TABLE rate_buckets (
  key         text PRIMARY KEY,
  requests    double precision NOT NULL,
  tokens      double precision NOT NULL,
  updated_at  timestamptz NOT NULL
);

-- Anthropic citations of the item's documents, as the provider returned them.
ALTER TABLE results ADD COLUMN citations jsonb;
