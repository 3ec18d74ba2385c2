import type { ApiKeyCreated, ApiKeyList, ApiKeyView, Scope } from '../../domain/responses.js';
import { insertApiKey, listApiKeys, revokeApiKey, type ApiKeyRow } from '../../store/api-keys.js';
import type { Db } from '../../store/db.js';
import { NotFoundError } from '../errors.js';
import type { Authenticator } from './authenticator.js';
import { hashKey, KEY_ID, newKey, newKeyId } from './keys.js';

/** The admin key API: create (the key shown once), list (never the key), revoke. */
export class KeyService {
  constructor(
    private readonly db: Db,
    private readonly auth: Authenticator,
  ) {}

  async create(input: { tenant: string; name: string; scopes: Scope[] }): Promise<ApiKeyCreated> {
    const key = newKey();
    const row = await insertApiKey(this.db, {
      id: newKeyId(),
      tenant_id: input.tenant,
      name: input.name,
      scopes: [...new Set(input.scopes)],
      key_hash: hashKey(key),
    });
    return { ...keyView(row), key };
  }

  async list(tenant?: string): Promise<ApiKeyList> {
    return { object: 'list', data: (await listApiKeys(this.db, tenant)).map(keyView) };
  }

  async revoke(id: string): Promise<ApiKeyView> {
    const row = KEY_ID.test(id) ? await revokeApiKey(this.db, id) : null;
    if (!row) throw new NotFoundError(`key ${id}`);
    this.auth.forget(row.key_hash);
    return keyView(row);
  }
}

function keyView(row: ApiKeyRow): ApiKeyView {
  return {
    id: row.id,
    object: 'api_key',
    tenant: row.tenant_id,
    name: row.name,
    scopes: row.scopes as Scope[],
    created_at: row.created_at.toISOString(),
    last_used_at: row.last_used_at?.toISOString() ?? null,
    revoked_at: row.revoked_at?.toISOString() ?? null,
  };
}
