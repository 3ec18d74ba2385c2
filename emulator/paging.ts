/**
 * Cursor paging as the three providers' list endpoints do it; each wraps the page in its own body
 * (`openai/paging.ts`, `gemini/paging.ts`, Anthropic's batch list).
 */

/** One page of `items` (in list order) after or before a cursor id: what every provider's list pages through. */
export function pageOf<T>(
  items: readonly T[],
  idOf: (t: T) => string,
  cursor: { after?: string | null; before?: string | null },
  limit: number,
): { items: T[]; hasMore: boolean } {
  if (cursor.before) {
    const end = Math.max(
      0,
      items.findIndex((t) => idOf(t) === cursor.before),
    );
    const start = Math.max(0, end - limit);
    return { items: items.slice(start, end), hasMore: start > 0 };
  }
  let start = 0;
  if (cursor.after) {
    const index = items.findIndex((t) => idOf(t) === cursor.after);
    start = index < 0 ? items.length : index + 1;
  }
  return { items: items.slice(start, start + limit), hasMore: start + limit < items.length };
}
