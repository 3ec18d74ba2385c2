import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { nanosToUsd, type Nanos } from '../domain/money.js';
import type { WriteEffect } from '../store/results.js';

/** What the activities report; `NO_METRICS` when nobody scrapes (unit tests, tools). */
export interface ActivityMetrics {
  /** A write of result rows: items it made final and what it added to their cost. */
  resultsWritten(batch: { provider: string; model: string }, effect: WriteEffect): void;
  /** Time spent taking a token from a shared rate limit (0 when one was free). */
  rateLimitWaited(limit: string, seconds: number): void;
}

export const NO_METRICS: ActivityMetrics = { resultsWritten: () => {}, rateLimitWaited: () => {} };

/**
 * The metrics of one process, in one prom-client registry: the worker's counters and histograms,
 * the Node.js process metrics, and (added by the API, see batch-gauges.ts) gauges read from the
 * store at scrape time. Under `npm run dev` the worker and the API share one instance, so the
 * API's /metrics carries both. Labels never name a tenant, batch or item: their number stays
 * bounded by the providers, models and statuses in use.
 */
export class DroverMetrics implements ActivityMetrics {
  readonly registry = new Registry();

  readonly items = new Counter({
    name: 'drover_items_total',
    help: 'Items that reached a final status (succeeded, failed, cancelled), counted once, at the write that made them final.',
    labelNames: ['provider', 'model', 'path', 'status'] as const,
    registers: [this.registry],
  });

  /** Integer nano-dollars by label set: what the cost counter shows, so it adds up without float noise. */
  private readonly costNanos = new Map<string, { labels: { provider: string; model: string }; nanos: Nanos }>();

  readonly cost: Counter<'provider' | 'model'> = new Counter({
    name: 'drover_cost_usd_total',
    help: 'What provider answers cost, in US dollars, as written to the results (failed attempts included): the batches spend.',
    labelNames: ['provider', 'model'] as const,
    registers: [this.registry],
    // Set at scrape time from the exact integer totals: one division each, which prints exactly
    // (adding dollars as they come would show 0.30000000000000004).
    collect: () => {
      this.cost.reset();
      for (const { labels, nanos } of this.costNanos.values()) this.cost.inc(labels, nanosToUsd(nanos));
    },
  });

  readonly providerDuration = new Histogram({
    name: 'drover_provider_request_duration_seconds',
    help: 'Duration of provider SDK calls (create_batch, retrieve, results, complete, ...), failed ones included.',
    labelNames: ['provider', 'operation'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });

  readonly providerErrors = new Counter({
    name: 'drover_provider_errors_total',
    help: 'Provider SDK calls that failed, by failure type (ProviderRateLimited, ProviderServerError, ...; other: not a provider answer).',
    labelNames: ['provider', 'type'] as const,
    registers: [this.registry],
  });

  readonly rateLimitWait = new Histogram({
    name: 'drover_rate_limit_wait_seconds',
    help: 'Time a realtime call waited for a token of its shared rate limit (DROVER_RATE_LIMITS) before it was sent.',
    labelNames: ['limit'] as const,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [this.registry],
  });

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  resultsWritten(batch: { provider: string; model: string }, effect: WriteEffect): void {
    for (const f of effect.finals)
      this.items.inc({ provider: batch.provider, model: batch.model, path: f.path ?? 'none', status: f.status }, f.n);
    // A rewrite can only lower a cost when a provider answered the same attempt differently; a counter never goes down.
    if (effect.costNanos <= 0) return;
    const key = JSON.stringify([batch.provider, batch.model]);
    const entry = this.costNanos.get(key) ?? { labels: { provider: batch.provider, model: batch.model }, nanos: 0 };
    entry.nanos += effect.costNanos;
    this.costNanos.set(key, entry);
  }

  rateLimitWaited(limit: string, seconds: number): void {
    this.rateLimitWait.observe({ limit }, seconds);
  }

  providerCall(provider: string, operation: string, seconds: number, errorType?: string): void {
    this.providerDuration.observe({ provider, operation }, seconds);
    if (errorType) this.providerErrors.inc({ provider, type: errorType });
  }
}
