/** How an item reaches the model: the provider's native batch API, or one synchronous call. */
export type Path = 'batch' | 'realtime';
export type Mode = 'batch' | 'realtime' | 'auto';

/** Below this many items a native batch's turnaround (minutes to hours) is not worth half price. */
export const AUTO_REALTIME_BELOW = 50;

/**
 * `auto` takes the native batch API where the provider has one and the attempt is large enough;
 * small attempts, the last attempt (retrying stragglers in a 24-hour batch would stall the whole
 * batch) and servers without a batch API go realtime.
 */
export function choosePath(mode: Mode, p: { hasBatchApi: boolean; items: number; attempt: number; maxAttempts: number }): Path {
  if (!p.hasBatchApi) return 'realtime';
  if (mode !== 'auto') return mode;
  if (p.items < AUTO_REALTIME_BELOW) return 'realtime';
  if (p.attempt > 1 && p.attempt === p.maxAttempts) return 'realtime';
  return 'batch';
}
