/**
 * The `type` of every ApplicationFailure Drover throws. Retry policies name the non-retryable
 * ones (`nonRetryableErrorTypes`), so a misspelt string would silently make a final error
 * retryable: throwers and policies share these constants instead. A const object and a type of
 * the same name, as the Temporal SDK writes its enums. No imports: workflow code uses it too.
 */
export const FailureType = {
  /** The batch cannot run as stored: not found, unpriced, an unconfigured provider, an item too large to plan. */
  InvalidBatch: 'InvalidBatch',
  /** The provider answered 429; the next try waits for its Retry-After. */
  ProviderRateLimited: 'ProviderRateLimited',
  /** The provider refused the request itself (4xx): sent again, it fails the same way. */
  ProviderInvalidRequest: 'ProviderInvalidRequest',
  /** The provider refused the key (401, 403): no retry fixes that. */
  ProviderAuthentication: 'ProviderAuthentication',
  /** The provider failed or could not be reached (5xx, 408, 409, network): retried with backoff. */
  ProviderUnavailable: 'ProviderUnavailable',
  /** The chunk was cancelled before its provider batch was created: nothing may be created now. */
  SubmitCancelled: 'SubmitCancelled',
  /** The webhook receiver did not answer 2xx; retried until it does. */
  WebhookUndelivered: 'WebhookUndelivered',
  /** The webhook_url is not a public address (checked again after its name resolves): never retried. */
  WebhookRefused: 'WebhookRefused',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** The failures a provider call ends in, as a provider adapter classifies its SDK's errors. */
export type ProviderFailureType = Extract<FailureType, `Provider${string}`>;
