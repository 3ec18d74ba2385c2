import { z } from 'zod';
import * as R from '../../domain/responses.js';
import { TenantName } from '../auth/keys.js';
import { defineRoute, json, type Route } from '../define-route.js';
import type { QuotaService } from '../quotas/quota-service.js';
import { badInput } from './docs.js';
import { ValidationError } from '../errors.js';

function tenantOf(raw: string): string {
  const t = TenantName.safeParse(raw);
  if (!t.success) throw new ValidationError([{ path: 'tenant', message: t.error.issues[0]?.message ?? 'not a tenant name' }]);
  return t.data;
}

export const QuotaPatchBody = z
  .strictObject({
    requests_per_minute: z.int().min(1).max(1_000_000).nullable().optional(),
    max_active_batches: z.int().min(1).max(1_000_000).nullable().optional(),
    monthly_spend_usd: z.number().min(0).max(1e9).nullable().optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'give at least one of requests_per_minute, max_active_batches, monthly_spend_usd');

/** Tenant quotas: only an `admin` key may read or set them. */
export function quotaRoutes(service: QuotaService): Route[] {
  return [
    defineRoute(
      {
        method: 'get',
        path: '/v1/admin/tenants/{tenant}/quotas',
        tag: 'Admin',
        scope: 'admin',
        summary: "A tenant's quotas",
        description: 'Its limits (null: none), its running batches and this month’s spend and reservations against the cap.',
        params: { tenant: 'The tenant name.' },
        responses: { 200: { description: 'The quotas.', content: json(R.TenantQuotas) }, 400: badInput },
      },
      ({ params }) => service.get(tenantOf(params.tenant)),
    ),
    defineRoute(
      {
        method: 'patch',
        path: '/v1/admin/tenants/{tenant}/quotas',
        tag: 'Admin',
        scope: 'admin',
        summary: "Set a tenant's quotas",
        description:
          'Sets the quotas given (null removes one); the others keep their value. Requests past `requests_per_minute` get 429 with `Retry-After`; a submit beyond `max_active_batches` gets 429; batches reserve each attempt against `monthly_spend_usd` and wait in `awaiting_budget` when it has no room.',
        params: { tenant: 'The tenant name.' },
        body: QuotaPatchBody,
        responses: { 200: { description: 'The quotas after the change.', content: json(R.TenantQuotas) }, 400: badInput },
      },
      ({ params, body }) => service.set(tenantOf(params.tenant), body),
    ),
  ];
}
