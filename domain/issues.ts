import type { z } from 'zod';

/** One problem with a request: `path` names the field, `line` the NDJSON line (1-based). */
export interface Issue {
  path: string;
  message: string;
  line?: number;
}

/** `items[3].messages[0].role`: the form users see in editors and jq. */
export function formatPath(path: ReadonlyArray<PropertyKey>, prefix = ''): string {
  let out = prefix;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(body)';
}

export function zodIssues(error: z.ZodError, prefix = '', line?: number): Issue[] {
  return error.issues.map((i) => {
    const issue: Issue = { path: formatPath(i.path, prefix), message: describe(i) };
    if (line !== undefined) issue.line = line;
    return issue;
  });
}

function describe(i: z.core.$ZodIssue): string {
  if (i.code === 'unrecognized_keys') return `unknown field${i.keys.length > 1 ? 's' : ''}: ${i.keys.join(', ')}`;
  return i.message;
}
