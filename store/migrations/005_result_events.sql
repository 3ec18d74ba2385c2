-- Server-Sent Events stream per-item completions in the order they were written.
CREATE INDEX results_updated ON results (batch_id, updated_at, seq);
