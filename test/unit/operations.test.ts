import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Ajv, type ValidateFunction } from 'ajv';
import { ResponseFormat } from '../../domain/batch-spec.js';
import { zodIssues } from '../../domain/issues.js';
import { checkJsonOutput } from '../../domain/output-validation.js';
import { OPERATION_NAMES, OPERATION_USER_TEMPLATE, Operation, compileOperation, type CompiledOperation } from '../../domain/operations.js';
import { buildMessages } from '../../domain/prompt.js';
import { placeholders, renderTemplate } from '../../domain/template.js';

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/** Parses a request body the way the API would, then compiles a structured operation. */
function compiled(input: unknown): CompiledOperation {
  const op = Operation.parse(input);
  assert.notEqual(op.operation, 'run', 'helper is for structured operations');
  if (op.operation === 'run') throw new Error('unreachable');
  return compileOperation(op);
}

function validatorOf(c: CompiledOperation): ValidateFunction {
  return new Ajv({ strict: false }).compile(c.response_format.json_schema.schema);
}

/** `path: message` of each zod issue, in the form users see. */
function issuesOf(input: unknown): { path: string; message: string }[] {
  const r = Operation.safeParse(input);
  assert.equal(r.success, false, `expected ${JSON.stringify(input).slice(0, 200)} to be rejected`);
  return r.success ? [] : zodIssues(r.error);
}

function assertIssueAt(input: unknown, path: string, message?: RegExp): void {
  const issues = issuesOf(input);
  const hit = issues.find((i) => i.path === path);
  assert.ok(hit, `expected an issue at ${path}, got ${JSON.stringify(issues)}`);
  if (message) assert.match(hit.message, message);
}

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keywords OpenAI's strict mode refuses ("'uniqueItems' is not permitted"). */
const REFUSED_KEYWORDS = ['uniqueItems', 'minLength', 'maxLength', 'patternProperties', 'minProperties', 'maxProperties'];

/** Where a schema leaves OpenAI's strict subset: walks properties, items, anyOf/oneOf/allOf and $defs. */
function strictProblems(schema: unknown, path = '#'): string[] {
  if (!isNode(schema)) return [`${path}: not a schema object`];
  const out: string[] = [];
  for (const k of REFUSED_KEYWORDS) if (k in schema) out.push(`${path}: uses ${k}`);
  const isObject = schema.type === 'object' || (Array.isArray(schema.type) && schema.type.includes('object')) || 'properties' in schema;
  if (isObject) {
    if (schema.additionalProperties !== false) out.push(`${path}: additionalProperties is not false`);
    if (!isNode(schema.properties)) out.push(`${path}: no properties`);
    else {
      const keys = Object.keys(schema.properties).sort();
      const required = Array.isArray(schema.required) ? [...(schema.required as string[])].sort() : [];
      if (JSON.stringify(keys) !== JSON.stringify(required))
        out.push(`${path}: required ${JSON.stringify(required)} is not all of ${JSON.stringify(keys)}`);
      for (const [k, v] of Object.entries(schema.properties)) out.push(...strictProblems(v, `${path}/properties/${k}`));
    }
  }
  if (schema.items !== undefined) out.push(...strictProblems(schema.items, `${path}/items`));
  for (const k of ['anyOf', 'oneOf', 'allOf']) {
    const list = schema[k];
    if (Array.isArray(list)) list.forEach((s, i) => out.push(...strictProblems(s, `${path}/${k}/${i}`)));
  }
  for (const k of ['$defs', 'definitions']) {
    const defs = schema[k];
    if (isNode(defs)) for (const [name, s] of Object.entries(defs)) out.push(...strictProblems(s, `${path}/${k}/${name}`));
  }
  return out;
}

/** Each structured operation's compiled form passes Ajv, the strict walk and ResponseFormat. */
function assertWellFormed(c: CompiledOperation): ValidateFunction {
  const validate = validatorOf(c);
  assert.deepEqual(strictProblems(c.response_format.json_schema.schema), []);
  assert.equal(c.response_format.json_schema.strict, true);
  const rf: ResponseFormat = ResponseFormat.parse(c.response_format);
  assert.equal(rf.type, 'json_schema');
  return validate;
}

function assertAccepts(validate: ValidateFunction, value: unknown): void {
  assert.equal(validate(value), true, `expected ${JSON.stringify(value)} to pass: ${JSON.stringify(validate.errors)}`);
}

function assertRejects(validate: ValidateFunction, value: unknown): void {
  assert.equal(validate(value), false, `expected ${JSON.stringify(value)} to fail`);
}

const CLASSIFY = {
  operation: 'classify',
  categories: ['billing', { name: 'technical', description: 'bugs, outages and errors' }, 'other'],
};
const ENRICH = {
  operation: 'enrich',
  fields: [
    { name: 'company', type: 'string', description: 'the company named' },
    { name: 'employees', type: 'number' },
    { name: 'is_public', type: 'boolean' },
    { name: 'sector', type: 'categorical', valid_values: ['tech', 'retail', 'finance'] },
  ],
};
const STRUCTURED_EXAMPLES: Record<string, unknown> = {
  classify: CLASSIFY,
  classify_multi: { ...CLASSIFY, multi_label: true },
  extract: { operation: 'extract', extraction_instructions: 'Find the invoice number and total.' },
  extract_schema: {
    operation: 'extract',
    extraction_instructions: 'Find the invoice.',
    schema: { type: 'object', properties: { total: { type: 'number' } } },
  },
  summarize: { operation: 'summarize', max_words: 50 },
  enrich: ENRICH,
};

// ---------------------------------------------------------------------------
// The request schema
// ---------------------------------------------------------------------------

describe('Operation', () => {
  test('OPERATION_NAMES lists exactly the operations the schema accepts, in order', () => {
    assert.deepEqual(
      Operation.options.map((o) => o.shape.operation.value),
      [...OPERATION_NAMES],
    );
  });

  test('an unknown operation is rejected at operation', () => {
    assertIssueAt({ operation: 'translate' }, 'operation');
  });

  test('unknown fields are rejected (strict objects)', () => {
    assertIssueAt({ ...CLASSIFY, labels: ['x'] }, '(body)', /unknown field: labels/);
    assertIssueAt({ operation: 'summarize', maxWords: 10 }, '(body)', /unknown field: maxWords/);
  });

  describe('classify', () => {
    test('multi_label defaults to false; categories keep their order and form', () => {
      const op = Operation.parse(CLASSIFY);
      assert.equal(op.operation, 'classify');
      if (op.operation !== 'classify') return;
      assert.equal(op.multi_label, false);
      assert.deepEqual(op.categories, CLASSIFY.categories);
    });

    test('a duplicate category name is reported at its index', () => {
      assertIssueAt({ operation: 'classify', categories: ['a', 'b', 'a'] }, 'categories[2]', /duplicate category: "a"/);
    });

    test('a duplicate given as an object is reported at its name, even against a plain string', () => {
      assertIssueAt({ operation: 'classify', categories: ['a', { name: 'a', description: 'again' }] }, 'categories[1].name', /duplicate/);
    });

    test('fewer than 2 or more than 200 categories are rejected', () => {
      assertIssueAt({ operation: 'classify', categories: ['only'] }, 'categories', /at least 2/);
      assertIssueAt({ operation: 'classify', categories: Array.from({ length: 201 }, (_, i) => `c${i}`) }, 'categories', /at most 200/);
      assert.ok(Operation.safeParse({ operation: 'classify', categories: Array.from({ length: 200 }, (_, i) => `c${i}`) }).success);
    });

    test('empty or blank category names are rejected', () => {
      assertIssueAt({ operation: 'classify', categories: ['a', ''] }, 'categories[1]');
      assertIssueAt({ operation: 'classify', categories: ['a', { name: '  ' }] }, 'categories[1].name');
    });

    test('categories is required', () => {
      assertIssueAt({ operation: 'classify' }, 'categories');
    });
  });

  describe('extract', () => {
    test('extraction_instructions is required and not blank', () => {
      assertIssueAt({ operation: 'extract' }, 'extraction_instructions');
      assertIssueAt({ operation: 'extract', extraction_instructions: ' \n' }, 'extraction_instructions');
    });

    test('an invalid JSON Schema is reported at schema', () => {
      assertIssueAt(
        { operation: 'extract', extraction_instructions: 'x', schema: { type: 'objekt' } },
        'schema',
        /not a valid JSON Schema/,
      );
      assertIssueAt(
        { operation: 'extract', extraction_instructions: 'x', schema: { type: 'object', required: 'name' } },
        'schema',
        /not a valid JSON Schema/,
      );
    });

    test('a schema that is not an object is reported at schema', () => {
      assertIssueAt({ operation: 'extract', extraction_instructions: 'x', schema: ['not', 'an', 'object'] }, 'schema');
    });

    test('the root must be an object schema', () => {
      assertIssueAt(
        { operation: 'extract', extraction_instructions: 'x', schema: { type: 'array', items: { type: 'string' } } },
        'schema.type',
        /root/,
      );
    });

    test('what strict mode cannot express is reported where it is', () => {
      const base = { operation: 'extract', extraction_instructions: 'x' };
      assertIssueAt(
        { ...base, schema: { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: true } },
        'schema.additionalProperties',
      );
      assertIssueAt(
        { ...base, schema: { type: 'object', properties: { meta: { type: 'object' } } } },
        'schema.properties.meta',
        /properties listed/,
      );
      assertIssueAt(
        {
          ...base,
          schema: {
            type: 'object',
            properties: {
              rows: {
                type: 'array',
                items: { type: 'object', properties: { k: { type: 'string' } }, additionalProperties: { type: 'string' } },
              },
            },
          },
        },
        'schema.properties.rows.items.additionalProperties',
      );
    });
  });

  describe('summarize', () => {
    test('max_words must be an integer from 1 to 2000', () => {
      assertIssueAt({ operation: 'summarize', max_words: 0 }, 'max_words', /at least 1/);
      assertIssueAt({ operation: 'summarize', max_words: 2001 }, 'max_words', /at most 2000/);
      assertIssueAt({ operation: 'summarize', max_words: 12.5 }, 'max_words');
      assert.ok(Operation.safeParse({ operation: 'summarize', max_words: 2000 }).success);
      assert.ok(Operation.safeParse({ operation: 'summarize' }).success);
    });
  });

  describe('enrich', () => {
    const field = (f: Record<string, unknown>) => ({ operation: 'enrich', fields: [f] });

    test('a categorical field without valid_values is reported at valid_values', () => {
      assertIssueAt(field({ name: 'sector', type: 'categorical' }), 'fields[0].valid_values', /needs valid_values/);
    });

    test('valid_values on a non-categorical field is rejected', () => {
      assertIssueAt(field({ name: 'n', type: 'number', valid_values: ['1'] }), 'fields[0].valid_values', /only categorical/);
    });

    test('valid_values must be non-empty and unique', () => {
      assertIssueAt(field({ name: 's', type: 'categorical', valid_values: [] }), 'fields[0].valid_values');
      assertIssueAt(field({ name: 's', type: 'categorical', valid_values: ['a', 'a'] }), 'fields[0].valid_values', /unique/);
    });

    test('duplicate field names are reported at the later field', () => {
      assertIssueAt(
        {
          operation: 'enrich',
          fields: [
            { name: 'x', type: 'string' },
            { name: 'y', type: 'string' },
            { name: 'x', type: 'number' },
          ],
        },
        'fields[2].name',
        /duplicate field name: x/,
      );
    });

    test('names must be identifier-like', () => {
      for (const name of ['first name', '1st', '', 'a-b', 'x'.repeat(65), '__proto__'])
        assertIssueAt(field({ name, type: 'string' }), 'fields[0].name');
      assert.ok(Operation.safeParse(field({ name: '_Snake_case9', type: 'string' })).success);
    });

    test('1 to 50 fields', () => {
      assertIssueAt({ operation: 'enrich', fields: [] }, 'fields', /at least 1/);
      assertIssueAt(
        { operation: 'enrich', fields: Array.from({ length: 51 }, (_, i) => ({ name: `f${i}`, type: 'string' })) },
        'fields',
        /at most 50/,
      );
    });

    test('an unknown type is rejected', () => {
      assertIssueAt(field({ name: 'd', type: 'date' }), 'fields[0].type');
    });
  });

  describe('run', () => {
    test('an invalid json_schema is reported at response_format.json_schema.schema', () => {
      assertIssueAt(
        { operation: 'run', response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'objekt' } } } },
        'response_format.json_schema.schema',
        /not a valid JSON Schema/,
      );
    });

    test('response_format follows the batch ResponseFormat rules', () => {
      assertIssueAt(
        { operation: 'run', response_format: { type: 'json_schema', json_schema: { name: 'has spaces', schema: {} } } },
        'response_format.json_schema.name',
      );
      assertIssueAt({ operation: 'run', user_prompt_template: '' }, 'user_prompt_template');
    });
  });
});

// ---------------------------------------------------------------------------
// Compiled output schemas
// ---------------------------------------------------------------------------

describe('the strict-compat check used below', () => {
  test('catches what strict mode refuses', () => {
    assert.notDeepEqual(strictProblems({ type: 'object', properties: { a: { type: 'string' } } }), []);
    assert.notDeepEqual(
      strictProblems({ type: 'object', properties: { a: { type: 'string' } }, required: [], additionalProperties: false }),
      [],
    );
    assert.notDeepEqual(
      strictProblems({
        type: 'object',
        properties: { a: { type: 'array', items: { type: 'string' }, uniqueItems: true } },
        required: ['a'],
        additionalProperties: false,
      }),
      [],
    );
    assert.deepEqual(
      strictProblems({ type: 'object', properties: { a: { type: 'string' } }, required: ['a'], additionalProperties: false }),
      [],
    );
  });
});

describe('compileOperation', () => {
  describe('classify, single label', () => {
    const c = compiled(CLASSIFY);
    const validate = validatorOf(c);
    test('the schema compiles, is strict-compatible and a valid ResponseFormat', () => {
      assertWellFormed(c);
    });

    test('output schema is {label: enum, confidence: number 0..1}', () => {
      assert.equal(c.response_format.json_schema.name, 'classification');
      assert.deepEqual(c.response_format.json_schema.schema, {
        type: 'object',
        properties: {
          label: { type: 'string', enum: ['billing', 'technical', 'other'] },
          confidence: { type: 'number', minimum: 0, maximum: 1, description: 'how sure you are, from 0 to 1' },
        },
        required: ['label', 'confidence'],
        additionalProperties: false,
      });
    });

    test('accepts a valid answer', () => {
      assertAccepts(validate, { label: 'technical', confidence: 0.8 });
      assertAccepts(validate, { label: 'other', confidence: 0 });
    });

    test('rejects a wrong label, a missing or extra field, wrong types and out-of-range confidence', () => {
      assertRejects(validate, { label: 'refunds', confidence: 0.8 });
      assertRejects(validate, { label: 'Billing', confidence: 0.8 });
      assertRejects(validate, { label: 'billing' });
      assertRejects(validate, { confidence: 0.5 });
      assertRejects(validate, { label: 'billing', confidence: 0.5, reason: 'because' });
      assertRejects(validate, { label: 'billing', confidence: '0.5' });
      assertRejects(validate, { label: ['billing'], confidence: 0.5 });
      assertRejects(validate, { label: 'billing', confidence: 1.5 });
      assertRejects(validate, { label: 'billing', confidence: -0.1 });
    });

    test('the system prompt lists every category, with its description, and how to answer', () => {
      assert.match(c.system_prompt, /exactly one/);
      assert.match(c.system_prompt, /- "billing"\n/);
      assert.match(c.system_prompt, /- "technical": bugs, outages and errors/);
      assert.match(c.system_prompt, /- "other"/);
      assert.match(c.system_prompt, /"label"/);
      assert.match(c.system_prompt, /"confidence"/);
    });

    test('instructions go into the system prompt', () => {
      const withInstructions = compiled({ ...CLASSIFY, instructions: 'Prefer "other" when unsure.' });
      assert.match(withInstructions.system_prompt, /Prefer "other" when unsure\./);
      assert.doesNotMatch(c.system_prompt, /Instructions:/);
    });

    test('a failed answer goes through checkJsonOutput like any structured output', () => {
      const r = checkJsonOutput('{"label":"refunds","confidence":0.9}', c.response_format.json_schema.schema, false);
      assert.equal(r.ok, false);
      if (!r.ok) {
        assert.equal(r.code, 'schema_invalid');
        assert.match(r.errors.join('\n'), /\/label must be equal to one of the allowed values: \["billing","technical","other"\]/);
      }
      assert.deepEqual(checkJsonOutput('{"label":"other","confidence":0.9}', c.response_format.json_schema.schema, false), {
        ok: true,
        value: { label: 'other', confidence: 0.9 },
      });
    });
  });

  describe('classify, multi label', () => {
    const c = compiled({ ...CLASSIFY, multi_label: true });
    const validate = validatorOf(c);
    test('the schema compiles, is strict-compatible and a valid ResponseFormat', () => {
      assertWellFormed(c);
    });

    test('output schema is {labels: array of enum, confidence}', () => {
      const schema = c.response_format.json_schema.schema as { properties: Record<string, unknown>; required: string[] };
      assert.deepEqual(schema.properties.labels, {
        type: 'array',
        items: { type: 'string', enum: ['billing', 'technical', 'other'] },
        minItems: 0,
      });
      assert.deepEqual(schema.required, ['labels', 'confidence']);
    });

    test('accepts none, one or several labels', () => {
      assertAccepts(validate, { labels: [], confidence: 1 });
      assertAccepts(validate, { labels: ['billing'], confidence: 0.4 });
      assertAccepts(validate, { labels: ['billing', 'technical'], confidence: 0.6 });
    });

    test('rejects a label outside the categories, the single-label shape and wrong types', () => {
      assertRejects(validate, { labels: ['billing', 'refunds'], confidence: 0.5 });
      assertRejects(validate, { label: 'billing', confidence: 0.5 });
      assertRejects(validate, { labels: 'billing', confidence: 0.5 });
      assertRejects(validate, { labels: ['billing'] });
      assertRejects(validate, { labels: ['billing'], confidence: 0.5, extra: true });
    });

    test('the prompt asks for every matching category, each once', () => {
      assert.match(c.system_prompt, /every category/);
      assert.match(c.system_prompt, /at most once/);
      assert.match(c.system_prompt, /"labels"/);
    });
  });

  describe('extract without a schema', () => {
    const c = compiled({ operation: 'extract', extraction_instructions: 'Find the invoice number and the total.' });
    const validate = validatorOf(c);
    test('the schema compiles, is strict-compatible and a valid ResponseFormat', () => {
      assertWellFormed(c);
    });

    test('output is {fields: [{name, value}]}', () => {
      assert.equal(c.response_format.json_schema.name, 'extraction');
      assert.deepEqual(c.response_format.json_schema.schema, {
        type: 'object',
        properties: {
          fields: {
            type: 'array',
            items: {
              type: 'object',
              properties: { name: { type: 'string' }, value: { type: 'string' } },
              required: ['name', 'value'],
              additionalProperties: false,
            },
          },
        },
        required: ['fields'],
        additionalProperties: false,
      });
    });

    test('accepts pairs, or none', () => {
      assertAccepts(validate, {
        fields: [
          { name: 'invoice_number', value: 'A-17' },
          { name: 'total', value: '12.50 EUR' },
        ],
      });
      assertAccepts(validate, { fields: [] });
    });

    test('rejects a map, a missing value, an extra key and a non-string value', () => {
      assertRejects(validate, { fields: { invoice_number: 'A-17' } });
      assertRejects(validate, { fields: [{ name: 'total' }] });
      assertRejects(validate, { fields: [{ name: 'total', value: '12', unit: 'EUR' }] });
      assertRejects(validate, { fields: [{ name: 'total', value: 12 }] });
      assertRejects(validate, {});
    });

    test('the instructions are in the system prompt', () => {
      assert.match(c.system_prompt, /Find the invoice number and the total\./);
    });
  });

  describe('extract with a schema', () => {
    const userSchema = {
      type: 'object',
      properties: {
        name: { type: 'string' },
        age: { type: 'integer' },
        kind: { type: 'string', enum: ['person', 'company'] },
        tags: { type: 'array', items: { type: 'object', properties: { t: { type: 'string' } }, required: ['t'] } },
        address: { $ref: '#/$defs/Address' },
      },
      required: ['name'],
      $defs: { Address: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
    };
    const before = structuredClone(userSchema);
    const c = compiled({ operation: 'extract', extraction_instructions: 'Who is this about?', schema: userSchema });
    const validate = validatorOf(c);
    test('the schema compiles, is strict-compatible and a valid ResponseFormat', () => {
      assertWellFormed(c);
    });
    const schema = c.response_format.json_schema.schema as {
      properties: Record<string, unknown>;
      required: string[];
      $defs: Record<string, unknown>;
    };

    test('the user schema is made strict: all required, optional ones nullable, no other properties', () => {
      assert.deepEqual(schema.required, ['name', 'age', 'kind', 'tags', 'address']);
      assert.deepEqual(schema.properties.name, { type: 'string' });
      assert.deepEqual(schema.properties.age, { type: ['integer', 'null'] });
      assert.deepEqual(schema.properties.kind, { type: ['string', 'null'], enum: ['person', 'company', null] });
      assert.deepEqual(schema.properties.address, { anyOf: [{ $ref: '#/$defs/Address' }, { type: 'null' }] });
      assert.deepEqual(schema.$defs.Address, {
        type: 'object',
        properties: { city: { type: 'string' } },
        required: ['city'],
        additionalProperties: false,
      });
    });

    test('the caller’s schema is not modified', () => {
      assert.deepEqual(userSchema, before);
    });

    test('accepts full answers and nulls for what was optional', () => {
      assertAccepts(validate, { name: 'Ada', age: 36, kind: 'person', tags: [{ t: 'math' }], address: { city: 'London' } });
      assertAccepts(validate, { name: 'Ada', age: null, kind: null, tags: null, address: null });
    });

    test('rejects missing fields, extra fields, wrong types and values outside an enum', () => {
      assertRejects(validate, { name: 'Ada', age: null, kind: null, tags: null });
      assertRejects(validate, { name: 'Ada', age: null, kind: null, tags: null, address: null, email: 'a@b.c' });
      assertRejects(validate, { name: 'Ada', age: 'thirty', kind: null, tags: null, address: null });
      assertRejects(validate, { name: 'Ada', age: null, kind: 'robot', tags: null, address: null });
      assertRejects(validate, { name: 'Ada', age: null, kind: null, tags: [{ t: 'x', u: 'y' }], address: null });
      assertRejects(validate, { name: 'Ada', age: null, kind: null, tags: null, address: { city: 'London', zip: 'N1' } });
      assertRejects(validate, { name: null, age: null, kind: null, tags: null, address: null });
    });

    test('the prompt says to use null rather than invent', () => {
      assert.match(c.system_prompt, /null/);
      assert.match(c.system_prompt, /Who is this about\?/);
    });
  });

  describe('summarize', () => {
    const c = compiled({ operation: 'summarize', max_words: 50, summary_instructions: 'Focus on decisions.' });
    const validate = validatorOf(c);
    test('the schema compiles, is strict-compatible and a valid ResponseFormat', () => {
      assertWellFormed(c);
    });

    test('output is {summary: string}', () => {
      assert.equal(c.response_format.json_schema.name, 'summary');
      assert.deepEqual(c.response_format.json_schema.schema, {
        type: 'object',
        properties: { summary: { type: 'string' } },
        required: ['summary'],
        additionalProperties: false,
      });
      assertAccepts(validate, { summary: 'They agreed to ship on Friday.' });
      assertRejects(validate, {});
      assertRejects(validate, { summary: 42 });
      assertRejects(validate, { summary: 'ok', words: 1 });
    });

    test('the prompt states the word limit and the instructions', () => {
      assert.match(c.system_prompt, /at most 50 words/);
      assert.match(c.system_prompt, /Focus on decisions\./);
      assert.match(compiled({ operation: 'summarize', max_words: 1 }).system_prompt, /at most 1 word\./);
      assert.doesNotMatch(compiled({ operation: 'summarize' }).system_prompt, /at most/);
    });
  });

  describe('enrich', () => {
    const c = compiled(ENRICH);
    const validate = validatorOf(c);
    test('the schema compiles, is strict-compatible and a valid ResponseFormat', () => {
      assertWellFormed(c);
    });

    test('one required property per field, of its type', () => {
      assert.equal(c.response_format.json_schema.name, 'enrichment');
      assert.deepEqual(c.response_format.json_schema.schema, {
        type: 'object',
        properties: {
          company: { type: 'string', description: 'the company named' },
          employees: { type: 'number' },
          is_public: { type: 'boolean' },
          sector: { type: 'string', enum: ['tech', 'retail', 'finance'] },
        },
        required: ['company', 'employees', 'is_public', 'sector'],
        additionalProperties: false,
      });
    });

    test('accepts a valid answer', () => {
      assertAccepts(validate, { company: 'Acme', employees: 120, is_public: false, sector: 'retail' });
    });

    test('rejects a categorical value outside valid_values, wrong types, missing and extra fields', () => {
      assertRejects(validate, { company: 'Acme', employees: 120, is_public: false, sector: 'mining' });
      assertRejects(validate, { company: 'Acme', employees: '120', is_public: false, sector: 'retail' });
      assertRejects(validate, { company: 'Acme', employees: 120, is_public: 'false', sector: 'retail' });
      assertRejects(validate, { company: 'Acme', employees: 120, sector: 'retail' });
      assertRejects(validate, { company: 'Acme', employees: 120, is_public: false, sector: 'retail', ceo: 'Wile' });
    });

    test('the prompt lists every field with its type, values and description', () => {
      assert.match(c.system_prompt, /- company \(string\): the company named/);
      assert.match(c.system_prompt, /- employees \(number\)/);
      assert.match(c.system_prompt, /- is_public \(boolean\)/);
      assert.match(c.system_prompt, /- sector \(one of "tech", "retail", "finance"\)/);
    });

    test('names that are Object.prototype members are plain properties', () => {
      const odd = compiled({
        operation: 'enrich',
        fields: [
          { name: 'constructor', type: 'string' },
          { name: 'toString', type: 'number' },
        ],
      });
      const v = assertWellFormed(odd);
      assertAccepts(v, { constructor: 'x', toString: 1 });
      assertRejects(v, { constructor: 'x' });
    });
  });

  describe('run', () => {
    test('passes its fields through unchanged', () => {
      const rf = {
        type: 'json_schema' as const,
        json_schema: { name: 'answer', schema: { type: 'object', properties: { a: { type: 'string' } } } },
      };
      const op = Operation.parse({
        operation: 'run',
        system_prompt: 'Be brief. {not a placeholder here}',
        user_prompt_template: 'Q: {question}',
        response_format: rf,
      });
      assert.deepEqual(compileOperation(op), {
        system_prompt: 'Be brief. {not a placeholder here}',
        user_prompt_template: 'Q: {question}',
        response_format: rf,
      });
    });

    test('absent fields stay absent; text format is kept', () => {
      assert.deepEqual(compileOperation(Operation.parse({ operation: 'run' })), {});
      assert.deepEqual(compileOperation(Operation.parse({ operation: 'run', response_format: { type: 'text' } })), {
        response_format: { type: 'text' },
      });
    });
  });

  test('an unvalidated value is rejected, not compiled', () => {
    const bad = { operation: 'classify', categories: ['a', 'a'], multi_label: false } as const;
    assert.throws(() => compileOperation({ ...bad, categories: [...bad.categories] }), { name: 'ZodError' });
  });
});

// ---------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------

describe('templates', () => {
  for (const [label, input] of Object.entries(STRUCTURED_EXAMPLES)) {
    test(`${label}: the user template has only {content} and renders it`, () => {
      const c = compiled(input);
      assert.equal(c.user_prompt_template, OPERATION_USER_TEMPLATE);
      assert.deepEqual(placeholders(c.user_prompt_template), ['content']);
      assert.equal(renderTemplate(c.user_prompt_template, { content: 'Invoice {A-17} total: 12' }), 'Text:\nInvoice {A-17} total: 12');
    });
  }

  test('braces in categories and instructions reach the system prompt verbatim and never the template', () => {
    const c = compiled({
      operation: 'classify',
      categories: ['{content}', 'a}}b', { name: '{{x}}', description: 'uses {braces}' }],
      instructions: 'Output {label} only.',
    });
    assertWellFormed(c);
    assert.deepEqual(placeholders(c.user_prompt_template), ['content']);
    assert.match(c.system_prompt, /- "\{content\}"\n/);
    assert.match(c.system_prompt, /- "a\}\}b"\n/);
    assert.match(c.system_prompt, /- "\{\{x\}\}": uses \{braces\}/);
    assert.match(c.system_prompt, /Output \{label\} only\./);
    assert.deepEqual((c.response_format.json_schema.schema as { properties: { label: { enum: string[] } } }).properties.label.enum, [
      '{content}',
      'a}}b',
      '{{x}}',
    ]);
  });

  test('buildMessages turns a compiled operation and an item into a system and a user message', () => {
    const c = compiled({ operation: 'summarize', max_words: 20 });
    const messages = buildMessages(c, { content: 'Long meeting notes {with braces}.' });
    assert.equal(messages.length, 2);
    assert.deepEqual(messages[0], { role: 'system', content: c.system_prompt });
    assert.deepEqual(messages[1], { role: 'user', content: 'Text:\nLong meeting notes {with braces}.' });
  });

  test('an item without content is missing the placeholder', () => {
    const c = compiled({ operation: 'summarize' });
    assert.throws(() => renderTemplate(c.user_prompt_template, {}), { name: 'Error', message: 'placeholder {content} has no value' });
  });
});
