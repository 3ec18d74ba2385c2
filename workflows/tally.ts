import { nanosToUsd, usdToNanos } from '../domain/money.js';
import { addUsage, ZERO_USAGE } from '../domain/usage.js';
import type { Tally } from './contracts.js';

export const ZERO_TALLY: Tally = Object.freeze({ succeeded: 0, failed: 0, cancelled: 0, usage: ZERO_USAGE, costUsd: 0 });

/** Dollars added as integer nano-dollars (`exact`, see EXACT_MONEY_PATCH), or as floats the way runs before it did. */
export function addUsd(a: number, b: number, exact: boolean): number {
  return exact ? nanosToUsd(usdToNanos(a) + usdToNanos(b)) : a + b;
}

export function addTally(a: Tally, b: Tally, exact = false): Tally {
  return {
    succeeded: a.succeeded + b.succeeded,
    failed: a.failed + b.failed,
    cancelled: a.cancelled + b.cancelled,
    usage: addUsage(a.usage, b.usage),
    costUsd: addUsd(a.costUsd, b.costUsd, exact),
  };
}
