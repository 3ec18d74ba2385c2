import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Scope } from '../../domain/responses.js';

/** Keys look like `drv_<43 base64url chars>`: 256 random bits, recognisable in a leak scan by the prefix. */
export const KEY_PREFIX = 'drv_';

/** A tenant name: what a key's data is sealed under. Letters, digits, `_` and `-`, so it is safe wherever it goes. */
export const TenantName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'a tenant: 1 to 64 letters, digits, "_" or "-", starting with a letter or digit');

/** Who is calling: the key's id, its tenant and what it may do. */
export interface Caller {
  keyId: string;
  tenant: string;
  scopes: readonly Scope[];
}

/** A new key, shown once; only `hashKey(key)` is stored. */
export function newKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function newKeyId(): string {
  return `key_${randomBytes(8).toString('hex')}`;
}

export const KEY_ID = /^key_[0-9a-f]{16}$/;

/** SHA-256, hex. Enough for keys of 256 random bits: a slow hash protects guessable secrets, which these are not. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** `admin` may do everything; otherwise the scope itself is needed. */
export function allows(caller: Caller, scope: Scope): boolean {
  return caller.scopes.includes('admin') || caller.scopes.includes(scope);
}
