import { addUsage, ZERO_USAGE } from '../domain/usage.js';
import type { Tally } from './contracts.js';

export const ZERO_TALLY: Tally = Object.freeze({ succeeded: 0, failed: 0, cancelled: 0, usage: ZERO_USAGE, costUsd: 0 });

export function addTally(a: Tally, b: Tally): Tally {
  return {
    succeeded: a.succeeded + b.succeeded,
    failed: a.failed + b.failed,
    cancelled: a.cancelled + b.cancelled,
    usage: addUsage(a.usage, b.usage),
    costUsd: a.costUsd + b.costUsd,
  };
}
