import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { ActivityInboundCallsInterceptor, ActivityInterceptorsFactory } from '@temporalio/worker';
import { safeFailureMessage } from '../config/redact.js';

/**
 * An activity interceptor that makes every failure an activity throws fit for a history, where
 * failure messages and stack traces are stored in plain text (payload encryption does not cover
 * them): no credential (the worker's own keys by value, others by shape), bounded length, and for
 * text that came from outside Drover (provider errors, parser and driver errors) no quoted
 * spans, which is where echoed prompts and item content sit. The error keeps its class, type,
 * retry settings and details (details are payloads, so they are encrypted).
 */
export function sanitizeActivityFailures(secrets: readonly string[]): ActivityInterceptorsFactory {
  const inbound: ActivityInboundCallsInterceptor = {
    async execute(input, next) {
      try {
        return await next(input);
      } catch (err) {
        sanitizeError(err, secrets);
        throw err;
      }
    },
  };
  return () => ({ inbound });
}

/** Rewrites `err.message` and `err.stack` (and its causes') in place; exported for tests. */
export function sanitizeError(err: unknown, secrets: readonly string[], depth = 0): void {
  if (!(err instanceof Error) || depth > 5 || err instanceof CancelledFailure) return;
  // Drover's own failures are written by Drover, except those that wrap a provider's answer.
  const untrusted = !(err instanceof ApplicationFailure) || (err.type ?? '').startsWith('Provider');
  err.message = safeFailureMessage(err.message, { untrusted, secrets });
  if (err.stack) err.stack = restack(err, err.message);
  sanitizeError(err.cause, secrets, depth + 1);
}

/** The stack's frames under a first line made from the safe message (the stack repeats the original message). */
function restack(err: Error, message: string): string {
  const frames = (err.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
  return [`${err.name}: ${message}`, ...frames].join('\n');
}
