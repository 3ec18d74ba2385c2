import { Context } from '@temporalio/activity';

/**
 * Heartbeats every few seconds while `fn` runs, so a long upload or download keeps its
 * activity alive and a dead worker is detected within the heartbeat timeout.
 */
export async function withHeartbeat<T>(fn: () => Promise<T>, everyMs = 3000): Promise<T> {
  const ctx = Context.current();
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), everyMs);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}
