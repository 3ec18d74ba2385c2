import { nanosToUsd } from '../../domain/money.js';
import type { Db } from '../../store/db.js';
import {
  activeBatchCount,
  countRequest,
  getTenantQuota,
  monthUsage,
  setTenantQuota,
  type QuotaPatch,
  type TenantQuotaRow,
} from '../../store/tenant-quotas.js';
import type { TenantQuotas } from '../../domain/responses.js';
import { AppError } from '../errors.js';

/** A quota refused the request: 429, with `Retry-After` when waiting is what helps. */
export class QuotaError extends AppError {
  constructor(
    message: string,
    readonly retryAfterS?: number,
  ) {
    super(429, 'quota_exceeded', message);
  }
}

/**
 * Per-tenant quotas: requests per minute (counted in the store, so every API process agrees),
 * active batches (checked at submit) and a monthly spend cap (reserved against by the batches'
 * workflows, see holdTenantBudget). Quotas are read through a cache of a few seconds.
 */
export class QuotaService {
  private readonly cache = new Map<string, { quota: TenantQuotaRow | null; until: number }>();

  constructor(
    private readonly db: Db,
    private readonly cacheMs = 2_000,
  ) {}

  private async quota(tenant: string): Promise<TenantQuotaRow | null> {
    const hit = this.cache.get(tenant);
    if (hit && hit.until > Date.now()) return hit.quota;
    const quota = await getTenantQuota(this.db, tenant);
    this.cache.set(tenant, { quota, until: Date.now() + this.cacheMs });
    return quota;
  }

  /** Counts a request against the tenant's requests per minute; throws 429 past it. */
  async admitRequest(tenant: string): Promise<void> {
    const rpm = (await this.quota(tenant))?.requests_per_minute;
    if (!rpm) return;
    const { requests, retryAfterS } = await countRequest(this.db, tenant);
    if (requests > rpm)
      throw new QuotaError(`tenant ${tenant} is limited to ${rpm} requests per minute; try again in ${retryAfterS} s`, retryAfterS);
  }

  /** Throws 429 when the tenant already runs as many batches as its quota allows. */
  async admitBatch(tenant: string): Promise<void> {
    const max = (await this.quota(tenant))?.max_active_batches;
    if (!max) return;
    const active = await activeBatchCount(this.db, tenant);
    if (active >= max) throw new QuotaError(`tenant ${tenant} already runs ${active} batches, its limit; submit again when one has ended`);
  }

  /** Whether the tenant's batches must reserve against a monthly spend cap. */
  async hasSpendCap(tenant: string): Promise<boolean> {
    const cap = (await this.quota(tenant))?.monthly_spend_usd;
    return cap !== null && cap !== undefined;
  }

  async get(tenant: string): Promise<TenantQuotas> {
    return this.view(tenant, await getTenantQuota(this.db, tenant));
  }

  async set(tenant: string, patch: QuotaPatch): Promise<TenantQuotas> {
    const row = await setTenantQuota(this.db, tenant, patch);
    this.cache.delete(tenant);
    return this.view(tenant, row);
  }

  private async view(tenant: string, row: TenantQuotaRow | null): Promise<TenantQuotas> {
    const usage = await monthUsage(this.db, tenant);
    return {
      object: 'tenant_quotas',
      tenant,
      requests_per_minute: row?.requests_per_minute ?? null,
      max_active_batches: row?.max_active_batches ?? null,
      monthly_spend_usd: row?.monthly_spend_usd ?? null,
      active_batches: await activeBatchCount(this.db, tenant),
      month: { spent_usd: nanosToUsd(usage.spentNanos), reserved_usd: nanosToUsd(usage.reservedNanos) },
    };
  }
}
