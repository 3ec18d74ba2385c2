-- What each worker can serve, so the API refuses at submit a batch no worker could run. A worker
-- writes one row per provider it has a client for at start, then refreshes last_seen_at; a row
-- not refreshed for a few minutes belongs to a worker that is gone, and no longer counts.

CREATE TABLE worker_providers (
  namespace     text NOT NULL,
  task_queue    text NOT NULL,
  -- The Temporal worker identity (pid@host by default): the same name the Temporal UI shows.
  worker_id     text NOT NULL,
  provider      text NOT NULL,
  batch         boolean NOT NULL,
  realtime      boolean NOT NULL,
  -- The models the worker serves for this provider; NULL means any.
  models        text[],
  started_at    timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (namespace, task_queue, worker_id, provider)
);
CREATE INDEX worker_providers_seen ON worker_providers (namespace, task_queue, last_seen_at);
