-- A cancel marks the job before it looks for a provider batch to cancel; the submit that would
-- create one checks the mark in the same statement that moves the job to `creating`, so a
-- cancelled chunk can never start paying after its cancel looked and found nothing.
ALTER TABLE provider_jobs ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false;
