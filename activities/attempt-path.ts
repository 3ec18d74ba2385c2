import { choosePath, type Path } from '../domain/choose-path.js';
import { BATCH_PROVIDERS, type ProviderName } from '../domain/provider-catalog.js';
import type { Providers } from '../providers/types.js';
import type { BatchRow } from '../store/rows.js';

/**
 * The path an attempt takes: the one place submit and the budget decide it, so an attempt is
 * reserved at the price it will be billed at.
 */
export function attemptPath(batch: BatchRow, providers: Providers, items: number, attempt: number): Path {
  const provider = batch.provider as ProviderName;
  const hasBatchApi = BATCH_PROVIDERS.includes(provider) && providers.batch[provider] !== undefined;
  return choosePath(batch.mode, { hasBatchApi, items, attempt, maxAttempts: batch.settings.max_attempts });
}
