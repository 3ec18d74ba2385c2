/**
 * The patch under which chunks report each attempt and wait for the batch to reserve the next
 * (a hard cost cap). Histories recorded before it replay without those signals.
 */
export const ATTEMPT_BUDGET_PATCH = 'attempt-budget';

/** The patch under which a batch of a tenant with a monthly cap reserves each attempt against it too. */
export const TENANT_BUDGET_PATCH = 'tenant-budget';
