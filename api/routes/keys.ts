import { z } from 'zod';
import * as R from '../../domain/responses.js';
import type { KeyService } from '../auth/key-service.js';
import { TenantName } from '../auth/keys.js';
import { defineRoute, json, Reply, type Route } from '../define-route.js';
import { badInput, errorResponse } from './docs.js';

export const CreateKeyBody = z.strictObject({
  tenant: TenantName,
  name: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[^\p{Cc}]*$/u, 'no control characters'),
  scopes: z.array(R.Scope).min(1),
});

export const KeyListQuery = z.strictObject({ tenant: TenantName.optional().meta({ description: "Only this tenant's keys." }) });

/** Key management: only an `admin` key may call these. */
export function keyRoutes(service: KeyService): Route[] {
  return [
    defineRoute(
      {
        method: 'post',
        path: '/v1/admin/keys',
        tag: 'Admin',
        scope: 'admin',
        summary: 'Create an API key',
        description:
          'A key for one tenant with the given scopes. The answer is the only time the key is shown: the store keeps its SHA-256 only.',
        body: CreateKeyBody,
        responses: { 201: { description: 'Created.', content: json(R.ApiKeyCreated) }, 400: badInput },
      },
      async ({ body }) => new Reply(201, await service.create(body)),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/admin/keys',
        tag: 'Admin',
        scope: 'admin',
        summary: 'List API keys',
        description: 'Every key, or one tenant’s, oldest first, revoked ones included; never the key or its hash.',
        query: KeyListQuery,
        responses: { 200: { description: 'The keys.', content: json(R.ApiKeyList) }, 400: badInput },
      },
      ({ query }) => service.list(query.tenant),
    ),
    defineRoute(
      {
        method: 'delete',
        path: '/v1/admin/keys/{id}',
        tag: 'Admin',
        scope: 'admin',
        summary: 'Revoke an API key',
        description: 'The key stops working on every API process within a second. Revoking twice keeps the first time.',
        params: { id: 'The key id (`key_…`).' },
        responses: { 200: { description: 'The revoked key.', content: json(R.ApiKeyView) }, 404: errorResponse('No such key.') },
      },
      ({ params }) => service.revoke(params.id),
    ),
  ];
}
