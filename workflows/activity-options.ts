import type { ActivityOptions } from '@temporalio/workflow';
import { FailureType } from '../domain/failure-types.js';

/** Failures that will happen the same way on every try (see domain/failure-types.ts). */
export const NON_RETRYABLE_ERRORS: FailureType[] = [FailureType.ProviderInvalidRequest, FailureType.ProviderAuthentication, FailureType.InvalidBatch];

/**
 * Submit and collect move up to 200 MB; they heartbeat every few seconds, so a worker that dies
 * mid-call is noticed after `heartbeatTimeout`, not after the 30-minute ceiling.
 */
export const transferOptions: ActivityOptions = {
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 20, nonRetryableErrorTypes: NON_RETRYABLE_ERRORS },
};

/** One small provider or store call. */
export const quickOptions: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 30, nonRetryableErrorTypes: NON_RETRYABLE_ERRORS },
};

/**
 * A realtime chunk runs as long as its rate limit needs (10,000 items at 500 RPM: 20 minutes);
 * it heartbeats, and a retry resumes where the store says it stopped.
 */
export const realtimeOptions: ActivityOptions = {
  startToCloseTimeout: '24 hours',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 20, nonRetryableErrorTypes: NON_RETRYABLE_ERRORS },
};

/** A webhook is retried with backoff until the receiver answers 2xx: up to about a day. */
export const webhookOptions: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 hour', maximumAttempts: 40 },
};
