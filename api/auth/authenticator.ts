import { timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { Scope } from '../../domain/responses.js';
import { DEFAULT_TENANT } from '../../domain/tenant.js';
import { findApiKeyByHash, touchApiKey } from '../../store/api-keys.js';
import type { Db } from '../../store/db.js';
import { AuthenticationError, PermissionError } from './errors.js';
import { allows, hashKey, type Caller } from './keys.js';

export interface AuthenticatorOptions {
  /** `DROVER_ADMIN_KEY`: an admin key of tenant `default` that is not in the store. */
  adminKey?: string | undefined;
  /**
   * How long a lookup is reused. A revoked key keeps working on another API process for at most
   * this long (plus one store round trip), so it stays well under the second the docs promise.
   */
  cacheMs?: number;
  /** last_used_at is written at most this often per key and process (the store also skips a write within a minute). */
  touchEveryMs?: number;
}

/** Longer than any key we issue or a sane bootstrap key; refused without a lookup. */
const MAX_KEY_CHARS = 256;
const MAX_CACHED = 10_000;
const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * Turns an `Authorization` header into a Caller, or a 401. Lookups go to the store by the key's
 * hash and are cached for `cacheMs` (unknown keys too, so a flood of one bad key does not reach
 * the store); revocation therefore reaches every API process within that time.
 */
export class Authenticator {
  private readonly cache = new Map<string, { caller: Caller | null; until: number }>();
  private readonly touched = new Map<string, number>();
  private readonly adminHash: Buffer | undefined;
  private readonly cacheMs: number;
  private readonly touchEveryMs: number;

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    options: AuthenticatorOptions = {},
  ) {
    this.adminHash = options.adminKey ? Buffer.from(hashKey(options.adminKey), 'hex') : undefined;
    this.cacheMs = options.cacheMs ?? 500;
    this.touchEveryMs = options.touchEveryMs ?? 60_000;
  }

  async authenticate(header: string | undefined): Promise<Caller> {
    if (!header) throw new AuthenticationError('an API key is required: send Authorization: Bearer <key>');
    const key = BEARER.exec(header)?.[1];
    if (!key) throw new AuthenticationError('the Authorization header must be "Bearer <key>"');
    if (key.length > MAX_KEY_CHARS) throw new AuthenticationError('the API key is not valid (unknown or revoked)');
    const hash = hashKey(key);
    if (this.adminHash && timingSafeEqual(Buffer.from(hash, 'hex'), this.adminHash)) {
      return { keyId: 'bootstrap', tenant: DEFAULT_TENANT, scopes: ['admin'] };
    }
    const caller = await this.lookup(hash);
    if (!caller) throw new AuthenticationError('the API key is not valid (unknown or revoked)');
    this.touch(caller.keyId);
    return caller;
  }

  /** Drops a cached lookup at once: a revoke on this process takes effect with no delay here. */
  forget(keyHash: string): void {
    this.cache.delete(keyHash);
  }

  private async lookup(hash: string): Promise<Caller | null> {
    const now = Date.now();
    const hit = this.cache.get(hash);
    if (hit && hit.until > now) return hit.caller;
    const row = await findApiKeyByHash(this.db, hash);
    const caller =
      row && row.revoked_at === null
        ? { keyId: row.id, tenant: row.tenant_id, scopes: row.scopes.filter((s): s is Scope => Scope.safeParse(s).success) }
        : null;
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(hash, { caller, until: now + this.cacheMs });
    return caller;
  }

  private touch(keyId: string): void {
    const now = Date.now();
    if ((this.touched.get(keyId) ?? 0) > now - this.touchEveryMs) return;
    if (this.touched.size >= MAX_CACHED) this.touched.clear();
    this.touched.set(keyId, now);
    touchApiKey(this.db, keyId).catch((err: unknown) => this.logger.warn({ err, keyId }, 'could not record last_used_at'));
  }
}

/** The caller, when its key has the scope; otherwise a 403 naming the scope. */
export function authorize(caller: Caller, scope: Scope): Caller {
  if (!allows(caller, scope)) throw new PermissionError(`this API key lacks the scope ${scope}`);
  return caller;
}
