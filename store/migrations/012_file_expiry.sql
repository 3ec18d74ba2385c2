-- An upload is a way in for a batch, not storage: it expires (DROVER_FILE_TTL, 7 days unless set;
-- `drover validate` and `estimate` give theirs an hour and delete it at once). A batch made from a
-- file keeps its own copy of the items, so an expired or deleted file takes no batch with it.
ALTER TABLE files ADD COLUMN expires_at timestamptz;
UPDATE files SET expires_at = created_at + interval '7 days';
ALTER TABLE files ALTER COLUMN expires_at SET DEFAULT now() + interval '7 days', ALTER COLUMN expires_at SET NOT NULL;
CREATE INDEX files_expires_at ON files (expires_at);
