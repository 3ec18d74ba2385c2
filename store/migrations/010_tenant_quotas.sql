-- Per-tenant quotas, set through the admin API; NULL is no limit.
CREATE TABLE tenant_quotas (
  tenant_id           text PRIMARY KEY,
  requests_per_minute integer CHECK (requests_per_minute > 0),
  max_active_batches  integer CHECK (max_active_batches > 0),
  monthly_spend_usd   numeric CHECK (monthly_spend_usd >= 0),
  updated_at          timestamptz NOT NULL DEFAULT now()
);

-- Requests per tenant per minute, counted by every API process in one place.
CREATE TABLE tenant_request_windows (
  tenant_id    text NOT NULL,
  window_start timestamptz NOT NULL,
  requests     integer NOT NULL,
  PRIMARY KEY (tenant_id, window_start)
);

-- What a tenant's batches reserved against its monthly cap, one row per chunk attempt, until
-- the chunk ends and the row holds what it really cost (settled_usd).
CREATE TABLE tenant_budget_holds (
  batch_id     text NOT NULL,
  chunk_idx    integer NOT NULL,
  attempt      integer NOT NULL,
  tenant_id    text NOT NULL,
  month        date NOT NULL,
  reserved_usd numeric NOT NULL,
  settled_usd  numeric,
  PRIMARY KEY (batch_id, chunk_idx, attempt)
);
CREATE INDEX tenant_budget_holds_month ON tenant_budget_holds (tenant_id, month);
