import type { Transport } from './http.js';
import { ApiKeyCreated, ApiKeyList, ApiKeyView, type Scope } from './schemas.js';

/** `client.keys`: API key management (`/v1/admin/keys`); the client's key must have the `admin` scope. */
export class Keys {
  constructor(private readonly t: Transport) {}

  /** A new key for `tenant`; the answer's `key` is the only time it is shown. Not retried: a retry could make a second key. */
  create(params: { tenant: string; name: string; scopes: Scope[]; signal?: AbortSignal }): Promise<ApiKeyCreated> {
    const { signal, ...body } = params;
    return this.t.json({ method: 'POST', path: '/v1/admin/keys', json: body, signal, replayable: false }, ApiKeyCreated);
  }

  /** Every key, or one tenant's; never the key itself. */
  list(params: { tenant?: string; signal?: AbortSignal } = {}): Promise<ApiKeyList> {
    return this.t.json({ method: 'GET', path: '/v1/admin/keys', query: { tenant: params.tenant }, signal: params.signal }, ApiKeyList);
  }

  /** Revokes a key: it stops working within a second. Revoking twice is harmless. */
  revoke(id: string, opts: { signal?: AbortSignal } = {}): Promise<ApiKeyView> {
    return this.t.json({ method: 'DELETE', path: `/v1/admin/keys/${encodeURIComponent(id)}`, signal: opts.signal }, ApiKeyView);
  }
}
