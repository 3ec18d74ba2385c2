import * as R from '../../domain/responses.js';
import { TenantName } from '../auth/keys.js';
import type { BatchService } from '../batch-service.js';
import { defineRoute, json, type Route } from '../define-route.js';
import { ValidationError } from '../errors.js';
import { badInput } from './docs.js';

/** The result cache's admin route: forgetting a tenant's remembered answers. */
export function resultCacheRoutes(service: BatchService): Route[] {
  return [
    defineRoute(
      {
        method: 'delete',
        path: '/v1/admin/tenants/{tenant}/cache',
        tag: 'Admin',
        scope: 'admin',
        summary: "Purge a tenant's result cache",
        description:
          "Forgets every answer the tenant's batches remembered; their next batches send every item to the provider. Results already written are kept.",
        params: { tenant: 'The tenant name.' },
        responses: { 200: { description: 'How many entries were forgotten.', content: json(R.CachePurge) }, 400: badInput },
      },
      ({ params }) => {
        const t = TenantName.safeParse(params.tenant);
        if (!t.success) throw new ValidationError([{ path: 'tenant', message: t.error.issues[0]?.message ?? 'not a tenant name' }]);
        return service.purgeCache(t.data);
      },
    ),
  ];
}
