/**
 * Temporal list filters built from values, never by pasting user input into the query text.
 * Every value goes through `literal()`, which quotes it the way Temporal's SQL-like parser reads
 * string literals (a backslash escapes the next character), so a value can never end its string
 * and add `OR …`. The routes already refuse anything outside strict formats (ListQuery in
 * routes/batches.ts); this is the second wall, and test/e2e/tenants.test.ts proves it holds
 * with hostile values sent straight to a real Temporal.
 */

/** A quoted string literal; control characters are refused outright (no legitimate value has them). */
export function literal(value: string): string {
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new Error('a visibility query value may not contain control characters');
  return `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/** Attribute names are ours (constants), never the caller's: checked all the same. */
function name(attribute: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(attribute)) throw new Error(`not a search attribute name: ${attribute}`);
  return attribute;
}

export type Clause = { attribute: string; op: '=' | '>'; value: string };

/** `A = 'x' AND B > 'y'`: every clause must hold, so none can widen what another one allows. */
export function visibilityQuery(clauses: readonly Clause[]): string {
  return clauses.map((c) => `${name(c.attribute)} ${c.op} ${literal(c.value)}`).join(' AND ');
}
