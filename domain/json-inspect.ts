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

interface Frame {
  value: unknown;
  key: PropertyKey | undefined;
  parent: Frame | undefined;
  depth: number;
}

function pathOf(frame: Frame, last?: PropertyKey): PropertyKey[] {
  const path: PropertyKey[] = last === undefined ? [] : [last];
  for (let f: Frame | undefined = frame; f && f.key !== undefined; f = f.parent) path.unshift(f.key);
  return path;
}

export function inspectJson(value: unknown, maxDepth = DEFAULT_MAX_JSON_DEPTH, prefix = ''): JsonProblem | null {
  // Frames link to their parent, so a path is built only for the one problem reported.
  const stack: Frame[] = [{ value, key: undefined, parent: undefined, depth: 0 }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const v = frame.value;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return { kind: 'nul', path: formatPath(pathOf(frame), prefix) };
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    const depth = frame.depth + 1;
    if (depth > maxDepth) return { kind: 'depth', path: formatPath(pathOf(frame), prefix), depth };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) {
        const child: unknown = v[i];
        if (typeof child === 'object' || typeof child === 'string') stack.push({ value: child, key: i, parent: frame, depth });
      }
      continue;
    }
    for (const key in v as Record<string, unknown>) {
      if (key.includes('\u0000')) return { kind: 'nul', path: formatPath(pathOf(frame, key.replaceAll('\u0000', '\\u0000')), prefix) };
      const child = (v as Record<string, unknown>)[key];
      if (typeof child === 'object' || typeof child === 'string') stack.push({ value: child, key, parent: frame, depth });
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
