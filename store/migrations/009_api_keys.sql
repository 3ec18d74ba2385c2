-- API keys. A key is shown once, at creation; only its SHA-256 is kept (keys carry 256 random
-- bits, so a fast hash is enough: there is nothing to brute-force). Revoked keys stay listed
-- with revoked_at so an operator sees what was cut off and when.

CREATE TABLE api_keys (
  id            text PRIMARY KEY,
  tenant_id     text NOT NULL,
  name          text NOT NULL,
  scopes        text[] NOT NULL,
  -- hex SHA-256 of the whole key (prefix included).
  key_hash      text NOT NULL UNIQUE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  -- Written at most about once a minute per key, so a busy key does not write on every request.
  last_used_at  timestamptz,
  revoked_at    timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);
