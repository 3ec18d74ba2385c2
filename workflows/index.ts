/** The worker's `workflowsPath` target: every workflow type Drover registers. */
export { processBatchWorkflow } from './process-batch.js';
export { processChunkWorkflow } from './process-chunk.js';
export { deliverWebhookWorkflow } from './deliver-webhook.js';
export { reconcileOrphansWorkflow } from './reconcile-orphans.js';
