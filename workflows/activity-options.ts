import { ActivityCancellationType, type ActivityOptions, type RetryPolicy } from '@temporalio/workflow';
import { FailureType } from '../domain/failure-types.js';

/** Failures that will happen the same way on every try (see domain/failure-types.ts). */
export const NON_RETRYABLE_ERRORS: FailureType[] = [
  FailureType.ProviderInvalidRequest,
  FailureType.ProviderAuthentication,
  FailureType.InvalidBatch,
  FailureType.SubmitCancelled,
];

const retry = (maximumInterval: string, maximumAttempts: number): RetryPolicy => ({
  initialInterval: '2 seconds',
  backoffCoefficient: 2,
  maximumInterval,
  maximumAttempts,
  nonRetryableErrorTypes: NON_RETRYABLE_ERRORS,
});

/**
 * Submit and collect move up to 200 MB; they heartbeat every few seconds, so a worker that dies
 * mid-call is noticed after `heartbeatTimeout`, not after the 30-minute ceiling. A cancel waits
 * for the activity to stop: a submit that is creating a provider batch must finish recording it
 * (or abort) before the chunk looks for what to cancel.
 */
export const transferOptions: ActivityOptions = {
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '20 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: retry('2 minutes', 20),
};

/** One small provider or store call. */
export const quickOptions: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: retry('1 minute', 30),
};

/**
 * A realtime chunk runs as long as its rate limit needs (10,000 items at 500 RPM: 20 minutes);
 * it heartbeats, and a retry resumes where the store says it stopped. A cancel waits until it
 * has stopped, so no answer lands after the chunk counted its items.
 */
export const realtimeOptions: ActivityOptions = {
  startToCloseTimeout: '24 hours',
  heartbeatTimeout: '20 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: retry('2 minutes', 20),
};

/** A webhook is retried with backoff until the receiver answers 2xx: up to about a day. */
export const webhookOptions: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 hour', maximumAttempts: 40 },
};
