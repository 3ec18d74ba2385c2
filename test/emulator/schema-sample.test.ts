import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom, sha256 } from '../../emulator/ids.js';
import { sampleFromSchema } from '../../emulator/schema-sample.js';
import { strictSchemaProblem } from '../../emulator/openai/strict-schema.js';
import { makeAjv, PERSON_SCHEMA } from './helpers.js';

const SCHEMAS: Record<string, object> = {
  person: PERSON_SCHEMA,
  recursiveTree: {
    type: 'object',
    properties: { root: { $ref: '#/$defs/node' } },
    required: ['root'],
    additionalProperties: false,
    $defs: {
      node: {
        type: 'object',
        properties: { label: { type: 'string' }, children: { type: 'array', items: { $ref: '#/$defs/node' } } },
        required: ['label', 'children'],
        additionalProperties: false,
      },
    },
  },
  anyOfWithNull: {
    anyOf: [
      { type: 'object', properties: { kind: { const: 'a' }, x: { type: 'number' } }, required: ['kind', 'x'], additionalProperties: false },
      { type: 'null' },
    ],
  },
  oneOfDiscriminated: {
    type: 'object',
    properties: {
      shape: {
        oneOf: [
          { type: 'object', properties: { type: { const: 'circle' }, r: { type: 'number', minimum: 0 } }, required: ['type', 'r'] },
          { type: 'object', properties: { type: { const: 'square' }, side: { type: 'number' } }, required: ['type', 'side'] },
        ],
      },
    },
    required: ['shape'],
  },
  definitionsDraft7Style: {
    type: 'object',
    properties: { items: { type: 'array', items: { $ref: '#/definitions/item' }, minItems: 1 } },
    required: ['items'],
    definitions: {
      item: { type: 'object', properties: { sku: { type: 'string' }, qty: { type: 'integer', minimum: 1 } }, required: ['sku', 'qty'] },
    },
  },
  tuple: {
    type: 'array',
    prefixItems: [
      { type: 'integer', multipleOf: 5, minimum: 7, maximum: 40 },
      { type: 'string', format: 'uuid' },
    ],
    minItems: 2,
    items: false,
  },
  allOfMerged: {
    allOf: [
      { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] },
      { type: 'object', properties: { b: { type: 'integer', maximum: -5 } }, required: ['b'] },
    ],
  },
  optionalProps: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'integer' } }, required: ['a'] },
  fractionalStep: { type: 'number', multipleOf: 0.25, minimum: 1, maximum: 2 },
  enumOfMixed: { enum: ['x', 2, null, true] },
  emptySchema: {},
};

describe('sampleFromSchema', () => {
  const ajv = makeAjv();
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    it(`conforms for ${name} across 200 seeds`, () => {
      const validate = ajv.compile(schema);
      for (let seed = 0; seed < 200; seed++) {
        const value = sampleFromSchema(schema, seededRandom(sha256(`${name}:${seed}`)));
        assert.ok(validate(value), `${name} seed ${seed}: ${JSON.stringify(value)} ${ajv.errorsText(validate.errors)}`);
      }
    });
  }

  it('is deterministic for a seed and varies across seeds', () => {
    const a = sampleFromSchema(PERSON_SCHEMA, seededRandom(sha256('one')));
    const b = sampleFromSchema(PERSON_SCHEMA, seededRandom(sha256('one')));
    assert.deepEqual(a, b);
    const distinct = new Set(
      Array.from({ length: 20 }, (_, i) => JSON.stringify(sampleFromSchema(PERSON_SCHEMA, seededRandom(sha256(`s${i}`))))),
    );
    assert.ok(distinct.size > 15, `only ${distinct.size} distinct outputs`);
  });

  it('includes optional properties only some of the time', () => {
    const withB = Array.from(
      { length: 100 },
      (_, i) => sampleFromSchema(SCHEMAS.optionalProps, seededRandom(sha256(`o${i}`))) as Record<string, unknown>,
    ).filter((v) => 'b' in v).length;
    assert.ok(withB > 10 && withB < 90, `b present in ${withB}/100`);
  });
});

describe('strictSchemaProblem', () => {
  it('accepts a schema that follows the strict rules', () => {
    assert.equal(strictSchemaProblem(PERSON_SCHEMA), null);
    assert.equal(strictSchemaProblem(SCHEMAS.recursiveTree), null);
  });

  it('requires additionalProperties: false, with the path to the offending object', () => {
    const problem = strictSchemaProblem({
      type: 'object',
      properties: { inner: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] } },
      required: ['inner'],
      additionalProperties: false,
    });
    assert.match(problem ?? '', /context=\('properties', 'inner'\), 'additionalProperties' is required to be supplied and to be false/);
  });

  it('requires every property to be listed in required', () => {
    const problem = strictSchemaProblem({
      type: 'object',
      properties: { a: { type: 'string' }, b: { type: 'string' } },
      required: ['a'],
      additionalProperties: false,
    });
    assert.match(problem ?? '', /Missing 'b'/);
  });

  it('checks $defs and requires an object root', () => {
    assert.match(
      strictSchemaProblem({ ...PERSON_SCHEMA, $defs: { address: { type: 'object', properties: {} } } }) ?? '',
      /'\$defs', 'address'/,
    );
    assert.match(strictSchemaProblem({ type: 'array', items: { type: 'string' } }) ?? '', /type: "object"/);
  });
});
