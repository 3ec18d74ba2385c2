/**
 * Produces a value that conforms to a JSON Schema, so emulated structured outputs pass the same
 * validation a real model's output would. Pure: the only source of variation is `rand`, which
 * callers seed from a hash of the request.
 *
 * Covers what LLM response schemas use in practice (object/properties/required/additionalProperties,
 * string with enum/const/minLength/maxLength/format, number/integer bounds and multipleOf, boolean,
 * null, arrays with minItems/maxItems/items/prefixItems/uniqueItems, anyOf/oneOf (first branch),
 * allOf (merged), `$ref` into `$defs`/`definitions`, type unions and OpenAPI `nullable`).
 * `pattern` is not honoured: generating from arbitrary regexes is out of scope.
 */

import { likelyLabels, summaryOf, SUMMARY_KEY, type Hints } from './plausible.js';

type Schema = Record<string, unknown>;

/** Past this depth recursive schemas are cut short by choosing the smallest valid value. */
const MAX_DEPTH = 8;

const WORDS = [
  'amber',
  'basalt',
  'cedar',
  'delta',
  'ember',
  'fjord',
  'granite',
  'harbor',
  'indigo',
  'juniper',
  'kestrel',
  'lagoon',
  'meadow',
  'nectar',
  'orchid',
  'pebble',
  'quartz',
  'river',
  'saffron',
  'tundra',
  'umber',
  'violet',
  'willow',
  'xenon',
  'yarrow',
  'zephyr',
];

const isSchema = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * `hints` (the item's text) make the value plausible where that is cheap: an enum label the text
 * points to (plausible.ts), distinct labels in a list of them, and summary fields made of the
 * text's own words. Without hints, or where they say nothing, the choice is `rand`'s.
 */
export function sampleFromSchema(schema: unknown, rand: () => number, hints?: Hints): unknown {
  return new Sampler(schema, rand, hints).sample(schema, 0);
}

/** One of an enum's values: the first the text points to, else one at random. */
export function chooseEnum(values: readonly unknown[], rand: () => number, hints?: Hints): unknown {
  const likely = hints ? likelyLabels(values, hints.text) : [];
  // rand is drawn either way, so what follows in the answer does not depend on the hint.
  const random = values[Math.floor(rand() * values.length)];
  return likely.length > 0 ? likely[0] : random;
}

class Sampler {
  constructor(
    private readonly root: unknown,
    private readonly rand: () => number,
    private readonly hints?: Hints,
  ) {}

  sample(input: unknown, depth: number, key?: string): unknown {
    if (input === false) return null;
    if (!isSchema(input)) return this.word();
    const s = this.resolve(input);

    if ('const' in s) return s.const;
    if (Array.isArray(s.enum) && s.enum.length > 0) return chooseEnum(s.enum, this.rand, this.hints);
    if (Array.isArray(s.allOf) && s.allOf.length > 0) {
      const { allOf, ...rest } = s;
      return this.sample(mergeAll([rest, ...allOf.filter(isSchema).map((x) => this.resolve(x))]), depth);
    }
    const branches = Array.isArray(s.anyOf) ? s.anyOf : Array.isArray(s.oneOf) ? s.oneOf : undefined;
    if (branches && branches.length > 0) {
      const { anyOf: _a, oneOf: _o, ...rest } = s;
      const chosen = depth >= MAX_DEPTH ? (branches.find((b) => this.isTerminal(b)) ?? branches[0]) : branches[0];
      return this.sample(isSchema(chosen) ? { ...rest, ...this.resolve(chosen) } : chosen, depth);
    }

    switch (this.typeOf(s, depth)) {
      case 'null':
        return null;
      case 'boolean':
        return this.rand() < 0.5;
      case 'integer':
        return this.number(s, true);
      case 'number':
        return this.number(s, false);
      case 'array':
        return this.array(s, depth);
      case 'object':
        return this.object(s, depth);
      default:
        return this.string(s, key);
    }
  }

  private resolve(s: Schema): Schema {
    let current = s;
    for (let hops = 0; typeof current.$ref === 'string' && hops < 32; hops++) {
      const { $ref, ...siblings } = current;
      const target = resolvePointer(this.root, $ref as string);
      if (!isSchema(target)) throw new Error(`Unresolvable $ref ${String($ref)}`);
      current = { ...target, ...siblings };
    }
    return current;
  }

  private isTerminal(branch: unknown): boolean {
    if (!isSchema(branch)) return true;
    const s = this.resolve(branch);
    const t = s.type;
    return t === 'null' || t === 'string' || t === 'number' || t === 'integer' || t === 'boolean' || 'const' in s || Array.isArray(s.enum);
  }

  private typeOf(s: Schema, depth: number): string {
    const t = s.type;
    if (typeof t === 'string') return s.nullable === true && depth >= MAX_DEPTH ? 'null' : t;
    if (Array.isArray(t) && t.length > 0) {
      if (depth >= MAX_DEPTH && t.includes('null')) return 'null';
      return (t.find((x) => x !== 'null') ?? t[0]) as string;
    }
    if (isSchema(s.properties) || 'additionalProperties' in s || Array.isArray(s.required)) return 'object';
    if ('items' in s || 'prefixItems' in s) return 'array';
    if ('minimum' in s || 'maximum' in s || 'exclusiveMinimum' in s || 'exclusiveMaximum' in s) return 'number';
    return 'string';
  }

  private object(s: Schema, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const props = isSchema(s.properties) ? s.properties : {};
    const required = new Set(Array.isArray(s.required) ? (s.required as string[]) : []);
    for (const [key, propSchema] of Object.entries(props)) {
      // Optional properties appear about half the time, so consumers see both shapes.
      if (required.has(key) || (depth < MAX_DEPTH && this.rand() < 0.5)) out[key] = this.sample(propSchema, depth + 1, key);
    }
    const extra = isSchema(s.additionalProperties) ? s.additionalProperties : {};
    for (const key of required) if (!(key in out)) out[key] = this.sample(extra, depth + 1);
    const minProps = num(s.minProperties) ?? 0;
    for (let i = 0; Object.keys(out).length < minProps && s.additionalProperties !== false; i++) {
      out[`extra_${i}`] = this.sample(extra, depth + 1);
    }
    return out;
  }

  private array(s: Schema, depth: number): unknown[] {
    const prefix = Array.isArray(s.prefixItems) ? s.prefixItems : [];
    const minItems = num(s.minItems) ?? 0;
    // `items: false` closes a tuple: nothing may follow the prefixItems.
    const maxItems = Math.min(num(s.maxItems) ?? Number.POSITIVE_INFINITY, s.items === false ? prefix.length : Number.POSITIVE_INFINITY);
    let length: number;
    if (depth >= MAX_DEPTH) {
      length = Math.max(minItems, 0);
    } else {
      const lo = Math.max(minItems, Math.min(1, maxItems));
      const hi = Math.max(lo, Math.min(maxItems, lo + 2));
      length = lo + Math.floor(this.rand() * (hi - lo + 1));
    }
    length = Math.max(length, Math.min(prefix.length, maxItems));
    const itemSchema = s.items === undefined ? {} : s.items;
    const out: unknown[] = [];
    const seen = new Set<string>();
    // A list of labels (multi-label classify) names each at most once, and those the text points to first.
    const labels = isSchema(itemSchema) ? this.resolve(itemSchema).enum : undefined;
    const distinct = s.uniqueItems === true || (Array.isArray(labels) && prefix.length === 0);
    if (Array.isArray(labels) && prefix.length === 0) {
      length = Math.min(length, labels.length);
      for (const label of this.hints ? likelyLabels(labels, this.hints.text) : []) {
        if (out.length >= length) break;
        seen.add(JSON.stringify(label));
        out.push(label);
      }
    }
    for (let attempts = 0; out.length < length && attempts < length * 20 + 20; attempts++) {
      const i = out.length;
      const value =
        Array.isArray(labels) && i >= prefix.length
          ? this.pick(labels)
          : this.sample(i < prefix.length ? prefix[i] : itemSchema, depth + 1);
      if (distinct) {
        const key = JSON.stringify(value);
        if (seen.has(key)) continue;
        seen.add(key);
      }
      out.push(value);
    }
    return out;
  }

  private number(s: Schema, integer: boolean): number {
    // Work in integer steps (1 for integers, 0.01 for numbers, or multipleOf) so bounds are exact.
    const step = num(s.multipleOf) ?? (integer ? 1 : 0.01);
    const min = num(s.minimum);
    const max = num(s.maximum);
    const exMin = num(s.exclusiveMinimum);
    const exMax = num(s.exclusiveMaximum);
    let lo = min ?? (exMin !== undefined ? exMin : undefined);
    let hi = max ?? (exMax !== undefined ? exMax : undefined);
    if (lo === undefined && hi === undefined) [lo, hi] = [0, 100];
    else if (lo === undefined) lo = (hi as number) - 100;
    else if (hi === undefined) hi = lo + 100;
    let loSteps = Math.ceil((lo as number) / step - 1e-9);
    let hiSteps = Math.floor((hi as number) / step + 1e-9);
    if (min === undefined && exMin !== undefined && loSteps * step <= exMin) loSteps++;
    if (max === undefined && exMax !== undefined && hiSteps * step >= exMax) hiSteps--;
    if (hiSteps < loSteps) return integer ? Math.ceil(lo as number) : (lo as number);
    const k = loSteps + Math.floor(this.rand() * (hiSteps - loSteps + 1));
    const value = integer || Number.isInteger(step) ? k * step : Number((k * step).toFixed(decimals(step)));
    return integer ? Math.round(value) : value;
  }

  private string(s: Schema, key?: string): string {
    const format = typeof s.format === 'string' ? s.format : undefined;
    const formatted = format ? this.formatted(format) : undefined;
    if (formatted !== undefined) return formatted;
    const minLength = num(s.minLength) ?? 0;
    const maxLength = num(s.maxLength) ?? Number.POSITIVE_INFINITY;
    const summary = key !== undefined && this.hints && SUMMARY_KEY.test(key) ? summaryOf(this.hints, maxLength) : undefined;
    if (summary !== undefined && summary.length >= minLength) {
      this.rand(); // drawn as for any string, so the fields after it do not shift
      return summary;
    }
    const words = 1 + Math.floor(this.rand() * 3);
    let text = Array.from({ length: words }, () => this.word()).join(' ');
    while (text.length < minLength) text += ` ${this.word()}`;
    if (text.length > maxLength) text = text.slice(0, maxLength);
    if (text.length < minLength) text = text.padEnd(minLength, 'x');
    return text;
  }

  private formatted(format: string): string | undefined {
    const r = (n: number): number => Math.floor(this.rand() * n);
    const p2 = (n: number): string => String(n).padStart(2, '0');
    const date = `${2000 + r(30)}-${p2(1 + r(12))}-${p2(1 + r(28))}`;
    const time = `${p2(r(24))}:${p2(r(60))}:${p2(r(60))}`;
    switch (format) {
      case 'date':
        return date;
      case 'date-time':
        return `${date}T${time}Z`;
      case 'time':
        return `${time}Z`;
      case 'email':
        return `${this.word()}.${r(1000)}@example.com`;
      case 'uri':
      case 'url':
        return `https://example.com/${this.word()}/${r(1000)}`;
      case 'hostname':
        return `${this.word()}.example.com`;
      case 'ipv4':
        return `10.${r(256)}.${r(256)}.${r(256)}`;
      case 'uuid': {
        const hex = Array.from({ length: 32 }, () => r(16).toString(16)).join('');
        return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
      }
      default:
        return undefined;
    }
  }

  private word(): string {
    return this.pick(WORDS);
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rand() * items.length)] as T;
  }
}

function decimals(step: number): number {
  const text = String(step);
  const dot = text.indexOf('.');
  return dot < 0 ? 0 : Math.min(text.length - dot - 1, 12);
}

function mergeAll(parts: Schema[]): Schema {
  const merged: Schema = {};
  const properties: Schema = {};
  const required = new Set<string>();
  for (const part of parts) {
    for (const [key, value] of Object.entries(part)) {
      if (key === 'properties' && isSchema(value)) Object.assign(properties, value);
      else if (key === 'required' && Array.isArray(value)) for (const r of value) required.add(String(r));
      else merged[key] = value;
    }
  }
  if (Object.keys(properties).length > 0) merged.properties = properties;
  if (required.size > 0) merged.required = [...required];
  return merged;
}

/** Resolves a local JSON Pointer such as `#/$defs/Item` (with `~0`/`~1` and percent escapes). */
export function resolvePointer(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  const path = ref.slice(1);
  if (path === '') return root;
  let node: unknown = root;
  for (const raw of path.split('/').slice(1)) {
    const token = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isSchema(node) && !Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[token];
  }
  return node;
}
