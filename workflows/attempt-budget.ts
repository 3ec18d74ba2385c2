/**
 * The patch under which chunks report each attempt and wait for the batch to reserve the next
 * (a hard cost cap). Histories recorded before it replay without those signals.
 */
export const ATTEMPT_BUDGET_PATCH = 'attempt-budget';

/** The patch under which a batch of a tenant with a monthly cap reserves each attempt against it too. */
export const TENANT_BUDGET_PATCH = 'tenant-budget';

/** The patch under which chunks and webhook deliveries are started with their `DroverKind` search attribute. */
export const DROVER_KIND_PATCH = 'drover-kind';

/**
 * The patch under which `DroverStatus` says how every batch ended: a Temporal cancel while it
 * plans ends it `cancelled` (not a workflow left `queued`), and a failure that escapes the
 * workflow is stated as `failed` before it does.
 */
export const EXACT_STATUS_PATCH = 'exact-drover-status';

/**
 * The patch under which a batch with `sample` runs its sample realtime first and waits in
 * `awaiting_approval` (approve/reject updates, or an automatic decision) before its chunks.
 */
export const SAMPLE_FIRST_PATCH = 'sample-first';

/**
 * The patch under which the batch adds money as integer nano-dollars (domain/money.ts): its
 * spend, reservations and forecast, the `DroverCostUsd` it upserts and what its progress query
 * answers are exact, and limits compare without a tolerance. Runs before it added dollars.
 */
export const EXACT_MONEY_PATCH = 'exact-money';

/**
 * The patch under which a batch with a result cache answers its items from it (an activity before
 * planning) and plans only the others. Batches planned before it never read the cache.
 */
export const RESULT_CACHE_PATCH = 'result-cache';

/**
 * The patch under which a sample reserves its worst case against max_cost_usd before it runs
 * (waiting for a raise, or stopping the batch, when it does not fit), and its spend counts
 * against the limit until the chunks holding its items report it. Before it, the sample ran
 * unreserved and its spend was seen only in those chunks' tallies.
 */
export const SAMPLE_BUDGET_PATCH = 'sample-budget';
