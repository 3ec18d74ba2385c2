import type { PromptSpec } from './batch-spec.js';
import { ChunkPlanner, type ChunkRange } from './chunk-plan.js';
import { choosePath, type Mode, type Path } from './choose-path.js';
import { cacheablePrefixTokens, estimateCost, outputTokensPerItem, sumEstimates, type CostEstimate } from './estimate.js';
import type { Pricing } from './pricing.js';
import { BATCH_PROVIDERS, chunkLimits, type ProviderName } from './provider-catalog.js';

/** What planning reads of a batch, whether it is a request at intake or a stored row in the worker. */
export interface PlanSettings {
  provider: ProviderName;
  spec: PromptSpec;
  pricing: Pricing;
  mode: Mode;
  chunkSize: number;
  maxAttempts: number;
}

/** The size of one item as planning counts it: a prepared item at intake, a stored row in the worker. */
export interface ItemSize {
  seq: number;
  request_bytes: number;
  est_input_tokens: number;
}

/** A chunk with the path its first attempt takes and its cost on that path. */
export interface PricedChunk extends ChunkRange {
  path: Path;
  estimate: CostEstimate;
}

/**
 * Splits a batch into chunks and prices each one. The API's estimate and dry run and the
 * worker's planBatch both plan through this class, so the estimate a user sees before submitting
 * is the plan the worker runs. Items are fed in `seq` order, so a million rows stream through.
 */
export class BatchPlanner {
  private readonly chunks: ChunkPlanner;
  private readonly hasBatchApi: boolean;
  /** The system prompt's tokens when a prompt cache can serve them (priced at the cached rate in estimates). */
  private readonly prefixTokens: number;
  private items = 0;

  constructor(private readonly settings: PlanSettings) {
    this.chunks = new ChunkPlanner(chunkLimits(settings.provider, settings.chunkSize, settings.spec));
    this.hasBatchApi = BATCH_PROVIDERS.includes(settings.provider);
    this.prefixTokens = cacheablePrefixTokens(settings.provider, settings.spec.system_prompt);
  }

  /** Throws when one item alone is above the provider's batch file limit. */
  add(item: ItemSize): void {
    this.chunks.add(item.seq, item.request_bytes, item.est_input_tokens);
    this.items++;
  }

  get itemCount(): number {
    return this.items;
  }

  /** Each chunk at the price of the path its first attempt takes: small chunks go realtime at full price. */
  finish(): PricedChunk[] {
    const { mode, maxAttempts, pricing, spec } = this.settings;
    const perItem = outputTokensPerItem(spec);
    return this.chunks.finish().map((c) => {
      const path = choosePath(mode, { hasBatchApi: this.hasBatchApi, items: c.item_count, attempt: 1, maxAttempts });
      return {
        ...c,
        path,
        estimate: estimateCost(c.est_input_tokens, c.item_count, perItem, pricing, path === 'batch', this.prefixTokens),
      };
    });
  }
}

/** The whole batch's estimate: the sum of its chunks'. */
export function totalEstimate(chunks: PricedChunk[]): CostEstimate {
  return sumEstimates(chunks.map((c) => c.estimate));
}
