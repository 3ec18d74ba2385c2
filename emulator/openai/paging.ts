/** OpenAI's list paging: a `limit` and an `after` cursor, answered with a CursorPage. */
import { badRequest } from '../api-error.js';
import { pageOf } from '../paging.js';

/** `limit` query parameter within [1, max], or `fallback` when absent. */
export function limitParam(query: URLSearchParams, fallback: number, max: number): number {
  const raw = query.get('limit');
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw badRequest(`Invalid 'limit': integer between 1 and ${max} expected, got '${raw}'.`, 'limit', 'invalid_value');
  }
  return n;
}

/** OpenAI's CursorPage body; the SDK pages on `has_more` and the id of the last item. */
export function cursorPage<T extends { id: string }>(
  items: readonly T[],
  after: string | null,
  limit: number,
): { object: 'list'; data: T[]; first_id: string | null; last_id: string | null; has_more: boolean } {
  const { items: data, hasMore } = pageOf(items, (item) => item.id, { after }, limit);
  return {
    object: 'list',
    data,
    first_id: data[0]?.id ?? null,
    last_id: data[data.length - 1]?.id ?? null,
    has_more: hasMore,
  };
}
