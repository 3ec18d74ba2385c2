/**
 * Ties citations to the JSON fields they support: a citation supports a string field when the
 * field's value appears in the text it cites, or the cited text in the value (case and spacing
 * aside). Anthropic returns citations per text span, not per field, so this is the mapping a
 * JSON answer needs; fields shorter than three characters are too ambiguous to match.
 */
export function citationFields(output: unknown, citedText: string): string[] {
  const cited = normalise(citedText);
  if (!cited) return [];
  const paths: string[] = [];
  walk(output, '', (path, value) => {
    const v = normalise(value);
    if (v.length >= 3 && (cited.includes(v) || v.includes(cited))) paths.push(path);
  });
  return paths;
}

export function withFieldPaths<C extends { cited_text?: unknown }>(output: unknown, citations: C[]): Array<C & { fields?: string[] }> {
  if (typeof output !== 'object' || output === null) return citations;
  return citations.map((c) => {
    const fields = typeof c.cited_text === 'string' ? citationFields(output, c.cited_text) : [];
    return fields.length > 0 ? { ...c, fields } : c;
  });
}

function normalise(s: string): string {
  return s.toLowerCase().replace(/\s+/g, ' ').trim();
}

function walk(value: unknown, path: string, visit: (path: string, value: string) => void): void {
  if (typeof value === 'string') visit(path || '(root)', value);
  else if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${path}[${i}]`, visit));
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k, visit);
  }
}
