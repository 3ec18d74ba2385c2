/**
 * Prompt templates use `{name}` placeholders. `{{` and `}}` stand for literal braces so a
 * template can contain JSON examples without being mistaken for placeholders.
 */
const PLACEHOLDER = /\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_.-]*)\}/g;

export function placeholders(template: string): string[] {
  const names = new Set<string>();
  for (const m of template.matchAll(PLACEHOLDER)) if (m[1]) names.add(m[1]);
  return [...names];
}

export function renderTemplate(template: string, values: Record<string, unknown>): string {
  return template.replace(PLACEHOLDER, (whole, name: string | undefined) => {
    if (whole === '{{') return '{';
    if (whole === '}}') return '}';
    // Own properties only: `{constructor}` must not find Object.prototype.constructor.
    const v = Object.hasOwn(values, name!) ? values[name!] : undefined;
    if (v === undefined || v === null) throw new MissingPlaceholderError(name!);
    return typeof v === 'string' ? v : JSON.stringify(v);
  });
}

export class MissingPlaceholderError extends Error {
  constructor(readonly placeholder: string) {
    super(`placeholder {${placeholder}} has no value`);
  }
}
