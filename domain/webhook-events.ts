/**
 * The `type` of a webhook delivery: part of the public contract (README "Webhooks"), so receivers
 * can switch on it. A batch that completes with some failures sends `batch.completed`.
 */
export type WebhookEvent =
  'batch.completed' | 'batch.failed' | 'batch.cancelled' | 'batch.timed_out' | 'batch.budget_exhausted' | 'batch.awaiting_budget';
