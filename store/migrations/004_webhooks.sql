-- Where a batch reports its events, and the secret its deliveries are signed with. The secret
-- lives only here: workflows carry the batch id, and the activity reads the secret itself.
ALTER TABLE batches
  ADD COLUMN webhook_url    text,
  ADD COLUMN webhook_secret text;
