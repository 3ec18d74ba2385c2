import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../domain/failure-types.js';
import type { WebhookEvent } from '../domain/webhook-events.js';
import { SIGNATURE_HEADER, signWebhook } from '../domain/webhook-signature.js';
import type { Db } from '../store/db.js';
import { countResults } from '../store/results.js';
import { openSecret } from '../store/secret-box.js';
import { loadBatch } from './batches.js';
import { postWebhook, systemResolver, WebhookRefusedError, type ResolveHost } from './webhook-post.js';

export interface WebhookDeps {
  /** DROVER_WEBHOOK_ALLOW_PRIVATE: private and loopback receivers and plain http are allowed. */
  allowPrivate?: boolean;
  /** How receivers' names are resolved; the system resolver unless a test gives another. */
  resolve?: ResolveHost;
}

/**
 * POSTs one signed event about a batch to its `webhook_url`. Anything but a 2xx throws, and the
 * activity's retry policy tries again with backoff until the receiver answers. The body is built
 * from the store at delivery time; the event id stays the same across retries so a receiver can
 * drop duplicates. A receiver that is not public (checked after its name resolves, see
 * webhook-post.ts) ends the delivery at once: no retry can make it public.
 */
export function createWebhookActivities(db: Db, deps: WebhookDeps = {}) {
  const options = { allowPrivate: deps.allowPrivate ?? false, resolve: deps.resolve ?? systemResolver, timeoutMs: 10_000 };
  return {
    async deliverWebhook(input: {
      batchId: string;
      event: WebhookEvent;
      eventId: string;
    }): Promise<{ delivered: boolean; status?: number }> {
      const batch = await loadBatch(db, input.batchId);
      if (!batch.webhook_url || !batch.webhook_secret) return { delivered: false };
      const counts = await countResults(db, batch.id);
      const body = JSON.stringify({
        id: input.eventId,
        type: input.event,
        created_at: new Date().toISOString(),
        data: {
          batch_id: batch.id,
          status: batch.status,
          counts: {
            total: batch.item_count,
            succeeded: counts.succeeded,
            failed: counts.failed,
            cancelled: counts.cancelled,
            pending: counts.pending,
          },
          cost_usd: counts.cost_usd,
          metadata: batch.metadata,
        },
      });
      let status: number;
      try {
        status = await postWebhook(
          batch.webhook_url,
          {
            'content-type': 'application/json',
            [SIGNATURE_HEADER]: signWebhook(openSecret(batch.webhook_secret), body),
            'drover-event-id': input.eventId,
          },
          body,
          options,
        );
      } catch (err) {
        if (err instanceof WebhookRefusedError) {
          throw ApplicationFailure.nonRetryable(`webhook ${hostOf(batch.webhook_url)} refused: ${err.message}`, FailureType.WebhookRefused);
        }
        throw ApplicationFailure.retryable(
          `webhook ${hostOf(batch.webhook_url)} unreachable: ${(err as Error).message}`,
          FailureType.WebhookUndelivered,
        );
      }
      if (status >= 300 && status < 400) {
        throw ApplicationFailure.retryable(
          `webhook ${hostOf(batch.webhook_url)} answered ${status}; redirects are not followed`,
          FailureType.WebhookUndelivered,
        );
      }
      if (status < 200 || status >= 300) {
        throw ApplicationFailure.retryable(`webhook ${hostOf(batch.webhook_url)} answered ${status}`, FailureType.WebhookUndelivered);
      }
      return { delivered: true, status };
    },
  };
}

/** Error messages name the receiver's host only: a URL may carry a token in its path or query. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid url)';
  }
}
