-- What a batch was created from (a SHA-256 of its normalised settings and items), so the same
-- idempotency_key sent with a different request is refused (409) instead of silently answering
-- with the first batch. NULL for batches created before: they replay as before.
-- webhook_secret is stored sealed (AES-256-GCM, store/secret-box.ts) from now on; older plain
-- values are still read as they are.
ALTER TABLE batches ADD COLUMN request_hash text;
