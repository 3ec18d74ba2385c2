import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { jsonSchemaProblems } from '../../domain/json-schema.js';
import { addUsage, ZERO_USAGE, type Usage } from '../../domain/usage.js';

describe('jsonSchemaProblems', () => {
  const valid: Array<[string, unknown]> = [
    ['empty schema', {}],
    [
      'object with properties',
      {
        type: 'object',
        properties: { a: { type: 'integer' }, b: { type: 'array', items: { type: 'string' } } },
        required: ['a'],
        additionalProperties: false,
      },
    ],
    ['type list', { type: ['string', 'null'] }],
    ['local $ref to $defs', { $defs: { s: { type: 'string' } }, type: 'object', properties: { a: { $ref: '#/$defs/s' } } }],
    ['enum and anyOf', { anyOf: [{ enum: ['a', 'b'] }, { type: 'number', minimum: 0 }] }],
    ['unknown keywords are tolerated (strict: false)', { type: 'string', 'x-custom': true }],
  ];
  for (const [name, schema] of valid) {
    test(`valid: ${name} → []`, () => {
      assert.deepEqual(jsonSchemaProblems(schema), []);
    });
  }

  test('an invalid type name is reported at /type', () => {
    const problems = jsonSchemaProblems({ type: 'strin' });
    assert.ok(problems.length > 0);
    assert.ok(
      problems.some((p) => p.startsWith('/type ')),
      problems.join(' | '),
    );
  });

  test('an invalid type name inside a list is reported with its index', () => {
    const problems = jsonSchemaProblems({ type: ['string', 'nul'] });
    assert.ok(
      problems.some((p) => p.startsWith('/type/1 ')),
      problems.join(' | '),
    );
  });

  test('an invalid nested schema is reported at its path', () => {
    const problems = jsonSchemaProblems({ type: 'object', properties: { a: { type: 'intger' } } });
    assert.ok(
      problems.some((p) => p.startsWith('/properties/a/type ')),
      problems.join(' | '),
    );
  });

  test('keywords of the wrong shape are problems', () => {
    assert.ok(jsonSchemaProblems({ required: 'a' }).some((p) => p.startsWith('/required ')));
    assert.ok(jsonSchemaProblems({ properties: 3 }).some((p) => p.startsWith('/properties ')));
  });

  test('non-object schemas (number, string, array) are problems at (schema)', () => {
    for (const schema of [5, 'object', []]) {
      const problems = jsonSchemaProblems(schema);
      assert.ok(problems.length > 0, JSON.stringify(schema));
      assert.ok(
        problems.every((p) => p.startsWith('(schema) ')),
        problems.join(' | '),
      );
    }
  });

  test('a schema that validates but cannot compile (unresolvable $ref) is a problem', () => {
    const problems = jsonSchemaProblems({ $ref: '#/definitions/missing' });
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /missing/);
  });

  test('every problem is a non-empty string', () => {
    for (const p of jsonSchemaProblems({ type: 'strin', properties: 1, required: 2 })) {
      assert.equal(typeof p, 'string');
      assert.ok(p.trim().length > 0);
    }
  });

  test('null, undefined and non-objects are problems, not crashes', () => {
    for (const v of [null, undefined, 3, 'x']) assert.ok(jsonSchemaProblems(v).length > 0, String(v));
  });
});

describe('addUsage', () => {
  test('adds every field', () => {
    const a: Usage = { input_tokens: 1, cached_input_tokens: 2, output_tokens: 3, reasoning_tokens: 4 };
    const b: Usage = { input_tokens: 10, cached_input_tokens: 20, output_tokens: 30, reasoning_tokens: 40 };
    assert.deepEqual(addUsage(a, b), { input_tokens: 11, cached_input_tokens: 22, output_tokens: 33, reasoning_tokens: 44 });
  });

  test('each field goes to its own field (no cross-wiring)', () => {
    const fields = ['input_tokens', 'cached_input_tokens', 'output_tokens', 'reasoning_tokens'] as const;
    for (const f of fields) {
      const one: Usage = { ...ZERO_USAGE, [f]: 7 };
      const sum = addUsage(one, ZERO_USAGE);
      for (const g of fields) assert.equal(sum[g], g === f ? 7 : 0, `${f} → ${g}`);
    }
  });

  test('ZERO_USAGE is the identity and is frozen', () => {
    const a: Usage = { input_tokens: 5, cached_input_tokens: 1, output_tokens: 9, reasoning_tokens: 2 };
    assert.deepEqual(addUsage(a, ZERO_USAGE), a);
    assert.deepEqual(addUsage(ZERO_USAGE, a), a);
    assert.ok(Object.isFrozen(ZERO_USAGE));
  });

  test('returns a new object and leaves its inputs unchanged', () => {
    const a: Usage = { input_tokens: 1, cached_input_tokens: 0, output_tokens: 1, reasoning_tokens: 0 };
    const b: Usage = { ...a };
    const sum = addUsage(a, b);
    assert.notEqual(sum, a);
    assert.notEqual(sum, b);
    assert.deepEqual(a, { input_tokens: 1, cached_input_tokens: 0, output_tokens: 1, reasoning_tokens: 0 });
    const acc = [a, a, a].reduce(addUsage, ZERO_USAGE);
    assert.deepEqual(acc, { input_tokens: 3, cached_input_tokens: 0, output_tokens: 3, reasoning_tokens: 0 });
  });

  test('stays exact for large token counts', () => {
    const big: Usage = { input_tokens: 2 ** 40, cached_input_tokens: 0, output_tokens: 0, reasoning_tokens: 0 };
    assert.equal(addUsage(big, big).input_tokens, 2 ** 41);
  });
});
