import { proxyActivities } from '@temporalio/workflow';
import type { WebhookEvent } from '../domain/webhook-events.js';
import type { createActivities } from '../activities/index.js';
import { webhookOptions } from './activity-options.js';

const { deliverWebhook } = proxyActivities<ReturnType<typeof createActivities>>(webhookOptions);

export interface DeliverWebhookInput {
  batchId: string;
  event: WebhookEvent;
  eventId: string;
}

/**
 * Delivers one batch event, retrying with backoff for up to about a day. It runs as an abandoned
 * child, so a receiver that keeps answering 500 delays no batch: the batch ends, continues as
 * new or is cancelled while its deliveries go on here.
 */
export async function deliverWebhookWorkflow(input: DeliverWebhookInput): Promise<void> {
  await deliverWebhook(input);
}
