import { createHash } from 'node:crypto';
import type { BatchSettings } from '../../domain/batch-spec.js';

/** JSON with object keys sorted, so two bodies that differ only in key order hash alike (depth is bounded at intake). */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * What a batch was made from: its settings as parsed (defaults filled in, an operation compiled;
 * the idempotency key and dry_run left out) and its items in order. Stored with the batch, it
 * tells a replay of the same request (200, the batch) from a different request under the same
 * idempotency key (409).
 */
export class RequestHasher {
  private readonly hash = createHash('sha256');

  constructor(settings: BatchSettings) {
    const { idempotency_key: _key, dry_run: _dry, cache, ...rest } = settings;
    // The default cache setting is left out, so requests stored before it existed still replay under their key.
    this.hash.update(canonical(cache === 'use' ? rest : { ...rest, cache }));
  }

  item(raw: unknown): void {
    this.hash.update('\n');
    this.hash.update(canonical(raw));
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}
