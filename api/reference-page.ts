/**
 * The API reference as one self-contained HTML page, rendered from the OpenAPI document: no
 * script, no CDN, so it works on an air-gapped host. Each operation lists its parameters, body
 * and responses; each schema its fields, with references as links.
 */

type Json = Record<string, any>;

const esc = (s: unknown) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** `code` spans for backticked text, nothing else: descriptions are plain sentences. */
const prose = (s: unknown) => esc(s ?? '').replace(/`([^`]+)`/g, '<code>$1</code>');

const anchor = (s: string) => s.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '');

function refName(ref: string): string {
  return ref.split('/').at(-1)!;
}

/** A short type: `string`, `integer ≥ 1`, `array of Item`, `"a" | "b"`, with schema links. */
function typeOf(s: Json | undefined): string {
  if (!s || Object.keys(s).length === 0) return 'any';
  if (s.$ref) return `<a href="#schema-${anchor(refName(s.$ref))}">${esc(refName(s.$ref))}</a>`;
  if (s.const !== undefined) return `<code>${esc(JSON.stringify(s.const))}</code>`;
  if (s.enum) return s.enum.map((v: unknown) => `<code>${esc(JSON.stringify(v))}</code>`).join(' | ');
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    if (Array.isArray(s[key])) return s[key].map((x: Json) => typeOf(x)).join(key === 'allOf' ? ' &amp; ' : ' | ');
  }
  if (s.type === 'array') return `array of ${typeOf(s.items)}`;
  if (s.type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object' && !s.properties)
    return `map of ${typeOf(s.additionalProperties)}`;
  const bounds = [
    s.minimum !== undefined && s.minimum > -9007199254740991 ? `≥ ${s.minimum}` : '',
    s.exclusiveMinimum !== undefined ? `&gt; ${s.exclusiveMinimum}` : '',
    s.maximum !== undefined && s.maximum < 9007199254740991 ? `≤ ${s.maximum}` : '',
    s.format ? esc(s.format) : '',
  ].filter(Boolean);
  return `${esc(Array.isArray(s.type) ? s.type.join(' | ') : (s.type ?? 'any'))}${bounds.length ? ` <span class="muted">${bounds.join(', ')}</span>` : ''}`;
}

function fieldsTable(s: Json): string {
  const props = (s.properties ?? {}) as Record<string, Json>;
  if (Object.keys(props).length === 0) return `<p>${typeOf(s)}</p>`;
  const required = new Set<string>(s.required ?? []);
  const rows = Object.entries(props).map(
    ([name, p]) =>
      `<tr><td><code>${esc(name)}</code>${required.has(name) ? ' <span class="req">required</span>' : ''}</td><td>${typeOf(p)}${p.default !== undefined ? ` <span class="muted">default ${esc(JSON.stringify(p.default))}</span>` : ''}</td><td>${prose(p.description)}${p.type === 'object' && p.properties ? fieldsTable(p) : ''}</td></tr>`,
  );
  return `<table><thead><tr><th>field</th><th>type</th><th>about</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/**
 * A body or response: each media type with its schema's fields in a table, a referenced schema
 * included (shown inline, with a link to it among the schemas), so a reader need not leave the
 * operation to see what to send.
 */
function content(c: Json | undefined, schemas: Record<string, Json>, inlineRefs = false): string {
  if (!c) return '';
  return Object.entries(c)
    .map(([type, media]) => {
      const m = media as Json;
      const schema = m.schema as Json | undefined;
      const target = schema?.$ref && inlineRefs ? schemas[refName(schema.$ref)] : schema;
      const inline = target?.properties ? fieldsTable(target) : '';
      const head = m.itemSchema
        ? `one ${typeOf(m.itemSchema)} per line.${schema?.description ? ` ${prose(schema.description)}` : ''}`
        : schema?.$ref
          ? `${typeOf(schema)}${inline && target?.description ? `: ${prose(target.description)}` : ''}`
          : schema?.description
            ? prose(schema.description)
            : inline
              ? ''
              : typeOf(schema);
      return `<div class="media"><code>${esc(type)}</code>: ${head}${inline}</div>`;
    })
    .join('');
}

/** The scope the operation's bearer requirement names, if any. */
function scopeOf(op: Json): string | undefined {
  return (op.security as Json[] | undefined)?.[0]?.bearer?.[0];
}

const paramTable = (rows: Json[]) =>
  `<table><thead><tr><th>name</th><th>in</th><th>type</th><th>about</th></tr></thead><tbody>${rows
    .map(
      (p) =>
        `<tr><td><code>${esc(p.name)}</code>${p.required ? ' <span class="req">required</span>' : ''}</td><td>${esc(p.in)}</td><td>${typeOf(p.schema)}${p.schema?.default !== undefined ? ` <span class="muted">default ${esc(JSON.stringify(p.schema.default))}</span>` : ''}</td><td>${prose(p.description ?? p.schema?.description)}</td></tr>`,
    )
    .join('')}</tbody></table>`;

function operation(method: string, path: string, op: Json, schemas: Record<string, Json>): string {
  const params = (op.parameters ?? []) as Json[];
  // The NDJSON form's settings are the JSON body's fields again: folded away under their own heading.
  const ndjson = params.filter((p) => p['x-drover-group'] === 'ndjson');
  const own = params.filter((p) => p['x-drover-group'] !== 'ndjson');
  const responses = Object.entries(op.responses as Record<string, Json>)
    .map(([status, r]) => `<li><b>${esc(status)}</b> ${prose(r.description)}${content(r.content, schemas)}</li>`)
    .join('');
  return `<section class="op" id="op-${anchor(`${method} ${path}`)}">
<h3><span class="method ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h3>
<p class="summary">${prose(op.summary)}</p>${op.description ? `<p>${prose(op.description)}</p>` : ''}
<p class="muted">${scopeOf(op) ? `Key with scope <code>${esc(scopeOf(op)!)}</code>` : 'No key needed'}</p>
${own.length ? `<h4>Parameters</h4>${paramTable(own)}` : ''}
${op.requestBody ? `<h4>Body</h4>${content(op.requestBody.content, schemas, true)}` : ''}
${ndjson.length ? `<details class="ndjson"><summary>NDJSON settings: ${ndjson.length} query parameters, only with <code>Content-Type: application/x-ndjson</code> (a JSON body carries the same fields itself)</summary>${paramTable(ndjson)}</details>` : ''}
<h4>Responses</h4><ul class="responses">${responses}</ul>
</section>`;
}

export function referencePage(doc: Json): string {
  const byTag = new Map<string, Array<[string, string, Json]>>();
  for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op as Json).tags?.[0] ?? 'Other';
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag)!.push([method, path, op as Json]);
    }
  }
  const tags = ((doc.tags ?? []) as Json[]).filter((t) => byTag.has(t.name));
  const schemas = Object.entries((doc.components?.schemas ?? {}) as Record<string, Json>);
  const nav = [
    ...tags.map(
      (t) =>
        `<h5>${esc(t.name)}</h5>${byTag
          .get(t.name)!
          .map(
            ([m, p, op]) =>
              `<a href="#op-${anchor(`${m} ${p}`)}"><span class="method ${esc(m)}">${esc(m.toUpperCase())}</span> ${esc(op.summary)}</a>`,
          )
          .join('')}`,
    ),
    `<h5>Schemas</h5>${schemas.map(([name]) => `<a href="#schema-${anchor(name)}">${esc(name)}</a>`).join('')}`,
  ].join('');
  const body = [
    ...tags.map(
      (t) =>
        `<h2>${esc(t.name)}</h2><p>${prose(t.description)}</p>${byTag
          .get(t.name)!
          .map(([m, p, op]) => operation(m, p, op, doc.components?.schemas ?? {}))
          .join('')}`,
    ),
    `<h2>Schemas</h2>`,
    ...schemas.map(
      ([name, s]) =>
        `<section class="schema" id="schema-${anchor(name)}"><h3>${esc(name)}</h3>${s.description ? `<p>${prose(s.description)}</p>` : ''}${fieldsTable(s)}</section>`,
    ),
  ].join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(doc.info.title)} reference</title>
<style>
body{margin:0;font:15px/1.5 system-ui,sans-serif;color:#1d2330;display:flex}
nav{position:sticky;top:0;height:100vh;overflow:auto;width:270px;flex:none;background:#f5f6f8;border-right:1px solid #dde;padding:12px 14px;box-sizing:border-box}
nav a{display:block;color:#1d2330;text-decoration:none;padding:2px 0;font-size:14px}nav a:hover{text-decoration:underline}
nav h5{margin:14px 0 4px;text-transform:uppercase;color:#667;font-size:12px}
main{padding:8px 36px 80px;max-width:980px;min-width:0}
code{font:13px ui-monospace,monospace;background:#f0f1f4;padding:1px 4px;border-radius:3px}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:14px}th,td{border-bottom:1px solid #e4e6eb;padding:5px 8px;text-align:left;vertical-align:top}th{color:#667;font-weight:600}
td table{margin:4px 0 0}.op,.schema{border-top:1px solid #e4e6eb;padding-top:6px;margin-top:18px}
.method{display:inline-block;min-width:44px;text-align:center;font:600 11px ui-monospace,monospace;border-radius:3px;padding:1px 4px;color:#fff;background:#667}
.get{background:#2b6cb0}.post{background:#2f855a}.patch{background:#b7791f}.delete{background:#c53030}.req{color:#c53030;font-size:12px}.muted{color:#778;font-size:12px}
.summary{font-weight:600;margin:2px 0}details.ndjson{margin:8px 0}details.ndjson summary{cursor:pointer;color:#445}.media{margin:4px 0}ul.responses{padding-left:18px}
</style></head>
<body><nav><b>${esc(doc.info.title)}</b> <span class="muted">${esc(doc.info.version)}</span><br><a href="/openapi.json">openapi.json</a>${nav}</nav>
<main><h1>${esc(doc.info.title)}</h1><p>${prose(doc.info.description)}</p>
${body}
</main></body></html>`;
}
