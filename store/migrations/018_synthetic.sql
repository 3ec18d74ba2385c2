-- A batch whose provider was served by the emulator: its answers are synthetic, and every view of
-- the batch and its results says so. Set by the worker that plans it (workers/providers.ts).
ALTER TABLE batches ADD COLUMN synthetic boolean NOT NULL DEFAULT false;
