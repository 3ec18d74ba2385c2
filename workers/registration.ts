import type { Logger } from 'pino';
import type { ProviderOffer } from '../domain/provider-offers.js';
import type { Db } from '../store/db.js';
import { deregisterWorker, registerWorker, REGISTRATION_REFRESH_MS, type WorkerRef } from '../store/worker-providers.js';

export interface Registration {
  /** Stops the refresh and removes the worker's rows. */
  stop(): Promise<void>;
}

/**
 * Puts what this worker serves in the store and keeps it fresh while the worker runs, so the API
 * refuses at submit a batch for a provider no worker has. A failed refresh is only logged: the
 * rows go stale after a few minutes, and the API then stops counting them.
 */
export async function startRegistration(db: Db, worker: WorkerRef, offers: ProviderOffer[], logger: Logger): Promise<Registration> {
  await registerWorker(db, worker, offers);
  const timer = setInterval(() => {
    registerWorker(db, worker, offers).catch((err) => logger.warn({ err }, 'could not refresh the worker registration'));
  }, REGISTRATION_REFRESH_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await deregisterWorker(db, worker).catch((err) => logger.warn({ err }, 'could not remove the worker registration'));
    },
  };
}
