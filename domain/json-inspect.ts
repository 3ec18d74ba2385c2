import { formatPath } from './issues.js';

/**
 * What PostgreSQL and a recursive reader cannot take in a parsed JSON value: a NUL character
 * (text and jsonb refuse U+0000 and the whole statement fails) and nesting deep enough to
 * overflow the stack of every recursive walker after intake (JSON.stringify, Ajv, pg). Walked
 * without recursion, so the check itself cannot overflow.
 */
export type JsonProblem = { kind: 'depth'; path: string; depth: number } | { kind: 'nul'; path: string };

/** Nesting deeper than this is refused at the edge (objects and arrays, the top level counting 1). */
export const DEFAULT_MAX_JSON_DEPTH = 64;

export function inspectJson(value: unknown, maxDepth = DEFAULT_MAX_JSON_DEPTH, prefix = ''): JsonProblem | null {
  const stack: Array<{ value: unknown; path: PropertyKey[]; depth: number }> = [{ value, path: [], depth: 0 }];
  while (stack.length > 0) {
    const { value: v, path, depth } = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return { kind: 'nul', path: formatPath(path, prefix) };
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (depth + 1 > maxDepth) return { kind: 'depth', path: formatPath(path, prefix), depth: depth + 1 };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], path: [...path, i], depth: depth + 1 });
      continue;
    }
    const entries = Object.entries(v as Record<string, unknown>);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, child] = entries[i]!;
      if (key.includes('\u0000')) return { kind: 'nul', path: formatPath([...path, key.replaceAll('\u0000', '\\u0000')], prefix) };
      stack.push({ value: child, path: [...path, key], depth: depth + 1 });
    }
  }
  return null;
}

/** The message for a problem, naming the place and the way out. */
export function jsonProblemMessage(p: JsonProblem, maxDepth: number): string {
  return p.kind === 'nul'
    ? 'contains a NUL character (\\u0000), which cannot be stored; remove it'
    : `nested more than ${maxDepth} levels deep (the limit); flatten it`;
}
