import type { Mode } from './choose-path.js';
import { PROVIDERS } from './provider-catalog.js';

/** What one live worker can run for one provider: its paths, and its models when it is restricted to some. */
export interface ProviderOffer {
  provider: string;
  batch: boolean;
  realtime: boolean;
  /** null: any model of the provider. */
  models: string[] | null;
}

/** A request field no live worker can serve, and why. */
export interface Unserved {
  path: 'model' | 'mode';
  message: string;
}

/**
 * Why no live worker could run a batch of `provider/model` in `mode`, or null when one can.
 * With no live worker at all nothing is known, so nothing is refused: the batch waits in the task
 * queue until a worker comes. A `batch`-mode chunk goes realtime on a worker without the
 * provider's batch API (see choosePath), so any worker with the provider can run it; `auto` and
 * `realtime` send some or all chunks through the realtime API, so they need a worker offering it.
 */
export function unservedReason(offers: readonly ProviderOffer[], provider: string, model: string, mode: Mode): Unserved | null {
  if (offers.length === 0) return null;
  const forProvider = offers.filter((o) => o.provider === provider);
  if (forProvider.length === 0) {
    return {
      path: 'model',
      message: `provider "${provider}" is not configured on any worker; configured: ${inCatalogOrder(offers.map((o) => o.provider)).join(', ')}`,
    };
  }
  const forModel = forProvider.filter((o) => o.models === null || o.models.includes(model));
  if (forModel.length === 0) {
    const served = [...new Set(forProvider.flatMap((o) => o.models ?? []))].sort();
    return {
      path: 'model',
      message: `no worker serves ${provider}/${model}; the workers configured for ${provider} serve: ${served.join(', ')}`,
    };
  }
  if (mode !== 'batch' && !forModel.some((o) => o.realtime)) {
    return {
      path: 'mode',
      message: `mode "${mode}" needs the realtime API of ${provider}, and no worker is configured for it (${provider} is configured for batch only); use mode "batch"`,
    };
  }
  return null;
}

/** Distinct provider names, the catalog's order first (openai, anthropic, gemini, openai_compatible). */
function inCatalogOrder(names: string[]): string[] {
  const rank = (n: string) => {
    const i = (PROVIDERS as string[]).indexOf(n);
    return i === -1 ? PROVIDERS.length : i;
  };
  return [...new Set(names)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}
