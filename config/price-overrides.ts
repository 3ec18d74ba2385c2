import { readFileSync } from 'node:fs';
import { PriceOverrides } from '../domain/model-prices.js';

/** Reads the operator's price override file (`DROVER_PRICES_FILE`); no path means no overrides. */
export function loadPriceOverrides(path: string | undefined): PriceOverrides {
  if (!path) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the price override file ${path}: ${(err as Error).message}`);
  }
  const parsed = PriceOverrides.safeParse(raw);
  if (!parsed.success)
    throw new Error(
      `the price override file ${path} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return parsed.data;
}
