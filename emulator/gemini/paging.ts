/** Google's list paging: `pageSize` and an opaque `pageToken`, here the base64url of the last id served. */
import { pageOf } from '../paging.js';
import { geminiError } from './edge.js';

/** `pageSize` as Google reads it: absent or 0 means the default, larger than `max` is capped. */
function pageSizeParam(raw: string | null, fallback: number, max: number): number {
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw geminiError(400, `Invalid value for pageSize: '${raw}'.`, 'INVALID_ARGUMENT');
  return n === 0 ? fallback : Math.min(n, max);
}

/** A page of `items` (in list order) and, when more follow, the token that fetches the next one. */
export function tokenPage<T>(
  items: readonly T[],
  idOf: (t: T) => string,
  query: URLSearchParams,
  fallback: number,
  max: number,
): { items: T[]; nextPageToken?: string } {
  const pageSize = pageSizeParam(query.get('pageSize'), fallback, max);
  const token = query.get('pageToken');
  const after = token ? Buffer.from(token, 'base64url').toString('utf8') : null;
  const page = pageOf(items, idOf, { after }, pageSize);
  const last = page.items[page.items.length - 1];
  return {
    items: page.items,
    ...(page.hasMore && last !== undefined ? { nextPageToken: Buffer.from(idOf(last)).toString('base64url') } : {}),
  };
}
