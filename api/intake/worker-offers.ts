import type { ProviderOffer } from '../../domain/provider-offers.js';
import type { Queryable } from '../../store/db.js';
import { liveWorkerProviders } from '../../store/worker-providers.js';

/**
 * What the live workers of one task queue serve, read from the store at most once per `cacheMs`
 * and shared by every request in the meantime, so the check at submit costs no query of its own.
 * A worker that registers (or goes) is seen within `cacheMs`.
 */
export class WorkerOffers {
  private cached: { at: number; offers: Promise<ProviderOffer[]> } | undefined;

  constructor(
    private readonly db: Queryable,
    private readonly queue: { namespace: string; taskQueue: string },
    private readonly cacheMs: number,
  ) {}

  current(): Promise<ProviderOffer[]> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at >= this.cacheMs) {
      const offers = liveWorkerProviders(this.db, this.queue).then((rows) =>
        rows.map((r) => ({ provider: r.provider, batch: r.batch, realtime: r.realtime, models: r.models })),
      );
      // A failed read is not kept: the next request tries again.
      void offers.catch(() => {
        if (this.cached?.offers === offers) this.cached = undefined;
      });
      this.cached = { at: now, offers };
    }
    return this.cached.offers;
  }
}
