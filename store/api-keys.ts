import { z } from 'zod';
import type { Queryable } from './db.js';

/** A stored API key: never the key itself, only its hash. */
export const ApiKeyRow = z.object({
  id: z.string(),
  tenant_id: z.string(),
  name: z.string(),
  scopes: z.array(z.string()),
  key_hash: z.string().regex(/^[0-9a-f]{64}$/),
  created_at: z.date(),
  last_used_at: z.date().nullable(),
  revoked_at: z.date().nullable(),
});
export type ApiKeyRow = z.infer<typeof ApiKeyRow>;

export async function insertApiKey(
  db: Queryable,
  k: Pick<ApiKeyRow, 'id' | 'tenant_id' | 'name' | 'scopes' | 'key_hash'>,
): Promise<ApiKeyRow> {
  const { rows } = await db.query('INSERT INTO api_keys (id, tenant_id, name, scopes, key_hash) VALUES ($1, $2, $3, $4, $5) RETURNING *', [
    k.id,
    k.tenant_id,
    k.name,
    k.scopes,
    k.key_hash,
  ]);
  return ApiKeyRow.parse(rows[0]);
}

/** The key with this hash, revoked or not (the caller decides), or null. */
export async function findApiKeyByHash(db: Queryable, keyHash: string): Promise<ApiKeyRow | null> {
  const { rows } = await db.query('SELECT * FROM api_keys WHERE key_hash = $1', [keyHash]);
  return rows[0] ? ApiKeyRow.parse(rows[0]) : null;
}

/** Every key, or a tenant's, oldest first. */
export async function listApiKeys(db: Queryable, tenantId?: string): Promise<ApiKeyRow[]> {
  const { rows } =
    tenantId === undefined
      ? await db.query('SELECT * FROM api_keys ORDER BY created_at, id')
      : await db.query('SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id', [tenantId]);
  return rows.map((r) => ApiKeyRow.parse(r));
}

/** Marks the key revoked (once: a second revoke keeps the first time); null when there is no such key. */
export async function revokeApiKey(db: Queryable, id: string): Promise<ApiKeyRow | null> {
  const { rows } = await db.query('UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING *', [id]);
  return rows[0] ? ApiKeyRow.parse(rows[0]) : null;
}

/** Sets last_used_at unless it was set less than `minIntervalS` ago, so concurrent API processes write it rarely. */
export async function touchApiKey(db: Queryable, id: string, minIntervalS = 60): Promise<void> {
  await db.query(
    `UPDATE api_keys SET last_used_at = now()
      WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))`,
    [id, minIntervalS],
  );
}
