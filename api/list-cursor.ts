import { createHmac, timingSafeEqual } from 'node:crypto';
import { secretKey } from '../store/secret-box.js';
import { ValidationError } from './errors.js';

/**
 * `next_cursor` of GET /v1/batches: Temporal's page token, signed together with the visibility
 * query it belongs to. Temporal spends seconds on a token it did not issue before failing, so a
 * cursor that was not ours, was edited, or belongs to another filter or tenant is refused at once (400).
 */

const TAG_BYTES = 16;

function tagOf(token: Uint8Array, query: string): Buffer {
  const key = createHmac('sha256', secretKey().bytes).update('drover list cursor').digest();
  return createHmac('sha256', key).update(query).update('\n').update(token).digest().subarray(0, TAG_BYTES);
}

export function sealCursor(token: Uint8Array, query: string): string {
  return `${Buffer.from(token).toString('base64url')}.${tagOf(token, query).toString('base64url')}`;
}

export function openCursor(cursor: string, query: string): Buffer {
  const [body, tag] = cursor.split('.');
  const token = Buffer.from(body ?? '', 'base64url');
  const given = Buffer.from(tag ?? '', 'base64url');
  if (token.length === 0 || given.length !== TAG_BYTES || !timingSafeEqual(given, tagOf(token, query)))
    throw new ValidationError([
      { path: 'cursor', message: 'not a cursor this list gave out: pass next_cursor as returned, with the same filters' },
    ]);
  return token;
}
