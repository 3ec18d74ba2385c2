-- Uploaded inputs (JSONL, or CSV converted to JSONL on the way in), kept line by line so a batch
-- made from a file streams it back without holding it in memory.
CREATE TABLE files (
  id          text PRIMARY KEY,
  tenant_id   text NOT NULL,
  filename    text NOT NULL,
  format      text NOT NULL CHECK (format IN ('jsonl', 'csv')),
  bytes       bigint NOT NULL,
  line_count  integer NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE file_lines (
  file_id  text NOT NULL REFERENCES files (id) ON DELETE CASCADE,
  line_no  integer NOT NULL,
  line     text NOT NULL,
  PRIMARY KEY (file_id, line_no)
);
