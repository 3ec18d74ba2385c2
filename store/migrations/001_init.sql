-- Drover's store of record. Workflows carry ids, ranges and counts; texts live here (claim check).
-- Every row carries tenant_id from the start so API keys can scope data without a migration of keys.

CREATE TABLE batches (
  id               text PRIMARY KEY,
  tenant_id        text NOT NULL,
  idempotency_key  text,
  status           text NOT NULL,
  provider         text NOT NULL,
  model            text NOT NULL,
  spec             jsonb NOT NULL,
  settings         jsonb NOT NULL,
  metadata         jsonb,
  item_count       integer NOT NULL,
  chunk_count      integer,
  succeeded        integer NOT NULL DEFAULT 0,
  failed           integer NOT NULL DEFAULT 0,
  usage            jsonb NOT NULL DEFAULT '{}'::jsonb,
  error            text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  completed_at     timestamptz
);
CREATE UNIQUE INDEX batches_idempotency ON batches (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX batches_tenant_created ON batches (tenant_id, created_at DESC);

CREATE TABLE items (
  tenant_id      text NOT NULL,
  batch_id       text NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
  seq            integer NOT NULL,
  item_id        text NOT NULL,
  input          jsonb NOT NULL,
  metadata       jsonb,
  request_bytes  integer NOT NULL,
  PRIMARY KEY (batch_id, seq)
);
CREATE UNIQUE INDEX items_item_id ON items (batch_id, item_id);

CREATE TABLE chunks (
  tenant_id   text NOT NULL,
  batch_id    text NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
  idx         integer NOT NULL,
  seq_start   integer NOT NULL,
  seq_end     integer NOT NULL,
  item_count  integer NOT NULL,
  bytes       bigint NOT NULL,
  PRIMARY KEY (batch_id, idx)
);

-- One row per provider batch Drover creates: the key (batch, chunk, attempt) is what makes
-- a retried submit find the provider batch it already paid for instead of creating another.
CREATE TABLE provider_jobs (
  tenant_id          text NOT NULL,
  batch_id           text NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
  chunk_idx          integer NOT NULL,
  attempt            integer NOT NULL,
  provider           text NOT NULL,
  job_key            text NOT NULL UNIQUE,
  input_file_id      text,
  provider_batch_id  text,
  status             text NOT NULL,
  item_count         integer NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (batch_id, chunk_idx, attempt)
);

-- At most one row per item: an item with no row is pending. `attempt` only moves forward,
-- so a retried or late collect can never overwrite a newer outcome or add a second row.
CREATE TABLE results (
  tenant_id   text NOT NULL,
  batch_id    text NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
  seq         integer NOT NULL,
  status      text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
  output      jsonb,
  error       jsonb,
  usage       jsonb,
  attempt     integer NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (batch_id, seq)
);
CREATE INDEX results_status ON results (batch_id, status);
