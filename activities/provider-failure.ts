import { ApplicationFailure } from '@temporalio/common';
import type { BatchProvider } from '../providers/types.js';

/**
 * Turns a provider SDK error into the failure Temporal retries by: 4xx are final, 429 waits for
 * Retry-After, the rest back off by the activity's retry policy. Other errors pass through.
 */
export async function asProviderCall<T>(provider: Pick<BatchProvider, 'classifyError'>, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const info = provider.classifyError(err);
    if (!info) throw err;
    throw ApplicationFailure.create({
      message: info.message,
      type: info.type,
      nonRetryable: !info.retryable,
      ...(info.retryAfterMs !== undefined ? { nextRetryDelay: info.retryAfterMs } : {}),
      details: info.status ? [{ status: info.status }] : [],
    });
  }
}
