import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { ItemInput } from '../../domain/batch-spec.js';
import { formatPath, zodIssues } from '../../domain/issues.js';
import { ItemValidator, MAX_ISSUES } from '../../domain/item-validator.js';

describe('formatPath', () => {
  test('the empty path is (body)', () => {
    assert.equal(formatPath([]), '(body)');
    assert.equal(formatPath([], ''), '(body)');
  });

  test('a prefix alone is returned as-is', () => {
    assert.equal(formatPath([], 'items[3]'), 'items[3]');
  });

  test('keys are dotted and indexes bracketed', () => {
    assert.equal(formatPath(['items', 3, 'messages', 0, 'role']), 'items[3].messages[0].role');
    assert.equal(formatPath(['messages', 0, 'role'], 'items[3]'), 'items[3].messages[0].role');
    assert.equal(formatPath(['response_format', 'json_schema', 'name']), 'response_format.json_schema.name');
  });

  test('a leading key has no dot; a leading index has no name', () => {
    assert.equal(formatPath(['model']), 'model');
    assert.equal(formatPath([0, 'id']), '[0].id');
  });

  test('symbol keys are stringified', () => {
    assert.equal(formatPath([Symbol('s')], 'x'), 'x.Symbol(s)');
  });
});

describe('zodIssues', () => {
  const Strict = z.strictObject({ a: z.string(), nested: z.strictObject({ n: z.number() }).optional() });

  test('one unknown key: singular wording, path of the object holding it', () => {
    const r = Strict.safeParse({ a: 'x', extra: 1 });
    assert.ok(!r.success);
    assert.deepEqual(zodIssues(r.error), [{ path: '(body)', message: 'unknown field: extra' }]);
  });

  test('several unknown keys: plural wording listing all of them', () => {
    const r = Strict.safeParse({ a: 'x', nested: { n: 1, p: 2, q: 3 } });
    assert.ok(!r.success);
    assert.deepEqual(zodIssues(r.error, 'items[2]'), [{ path: 'items[2].nested', message: 'unknown fields: p, q' }]);
  });

  test('other issues keep the zod message; line is attached only when given', () => {
    const r = Strict.safeParse({ a: 5 });
    assert.ok(!r.success);
    const [noLine] = zodIssues(r.error);
    assert.equal(noLine!.path, 'a');
    assert.equal(noLine!.message, r.error.issues[0]!.message);
    assert.equal('line' in noLine!, false);
    const [withLine] = zodIssues(r.error, '', 12);
    assert.equal(withLine!.line, 12);
  });

  test('one Issue per zod issue', () => {
    const r = ItemInput.safeParse({ id: 5, content: 6 });
    assert.ok(!r.success);
    const issues = zodIssues(r.error, 'items[0]');
    assert.equal(issues.length, r.error.issues.length);
    assert.deepEqual(issues.map((i) => i.path).sort(), ['items[0].content', 'items[0].id']);
  });
});

describe('ItemValidator', () => {
  test('accepts an item: seq, id, stored input, metadata and request bytes', () => {
    const v = new ItemValidator({});
    const item = v.accept({ id: 'a', content: 'hi', metadata: { k: 1 } }, { index: 0 });
    assert.deepEqual(item, {
      seq: 0,
      item_id: 'a',
      input: { content: 'hi' },
      metadata: { k: 1 },
      est_input_tokens: 0,
      request_bytes: Buffer.byteLength('[{"role":"user","content":"hi"}]'),
    });
    assert.equal(v.count, 1);
    assert.deepEqual(v.issues, []);
    assert.equal(v.issueCount, 0);
  });

  test('stored input keeps only the fields given (no undefined keys); metadata defaults to null', () => {
    const v = new ItemValidator({ user_prompt_template: '{q}' });
    const item = v.accept({ id: 'a', inputs: { q: 'x' } }, { index: 0 });
    assert.ok(item);
    assert.deepEqual(Object.keys(item.input), ['inputs']);
    assert.equal(item.metadata, null);
  });

  test('seq is the position among accepted calls, rejected items included', () => {
    const v = new ItemValidator({});
    assert.equal(v.accept({ id: 'a', content: 'x' }, { index: 0 })?.seq, 0);
    assert.equal(v.accept({ id: 'b' }, { index: 1 }), null);
    assert.equal(v.accept({ id: 'c', content: 'x' }, { index: 2 })?.seq, 2);
    assert.equal(v.count, 3);
  });

  describe('duplicates', () => {
    test('JSON body: names the first position as items[i]', () => {
      const v = new ItemValidator({});
      v.accept({ id: 'a', content: 'x' }, { index: 0 });
      v.accept({ id: 'b', content: 'x' }, { index: 1 });
      assert.equal(v.accept({ id: 'a', content: 'y' }, { index: 2 }), null);
      assert.equal(v.accept({ id: 'a', content: 'z' }, { index: 3 }), null);
      assert.deepEqual(v.issues, [
        { path: 'items[2].id', message: 'duplicate id "a" (first at items[0])' },
        { path: 'items[3].id', message: 'duplicate id "a" (first at items[0])' },
      ]);
    });

    test('NDJSON: names the first line, and the issue carries its own line', () => {
      const v = new ItemValidator({});
      v.accept({ id: 'a', content: 'x' }, { line: 3 });
      assert.equal(v.accept({ id: 'a', content: 'y' }, { line: 7 }), null);
      assert.deepEqual(v.issues, [{ path: 'id', line: 7, message: 'duplicate id "a" (first at line 3)' }]);
    });

    test('ids are compared exactly (case matters)', () => {
      const v = new ItemValidator({});
      assert.ok(v.accept({ id: 'A', content: 'x' }, { index: 0 }));
      assert.ok(v.accept({ id: 'a', content: 'x' }, { index: 1 }));
      assert.equal(v.issueCount, 0);
    });

    test('an item rejected by the schema does not claim its id', () => {
      const v = new ItemValidator({});
      assert.equal(v.accept({ id: 'a', content: 5 }, { index: 0 }), null);
      assert.ok(v.accept({ id: 'a', content: 'ok' }, { index: 1 }));
      assert.equal(v.issueCount, 1);
    });
  });

  test('nothing to send is an issue at content', () => {
    const v = new ItemValidator({});
    assert.equal(v.accept({ id: 'a', metadata: { x: 1 } }, { index: 4 }), null);
    assert.deepEqual(v.issues, [{ path: 'items[4].content', message: 'item has nothing to send: give content, inputs or messages' }]);
  });

  test('messages combined with content or inputs is an issue at messages', () => {
    const v = new ItemValidator({});
    const messages = [{ role: 'user', content: 'hi' }];
    assert.equal(v.accept({ id: 'a', messages, content: 'x' }, { index: 0 }), null);
    assert.equal(v.accept({ id: 'b', messages, inputs: { q: 1 } }, { line: 9 }), null);
    assert.deepEqual(v.issues, [
      { path: 'items[0].messages', message: 'messages cannot be combined with content, inputs or attachments (put parts in the messages)' },
      { path: 'messages', line: 9, message: 'messages cannot be combined with content, inputs or attachments (put parts in the messages)' },
    ]);
  });

  test('messages alone are accepted and stored as given', () => {
    const v = new ItemValidator({ system_prompt: 'S', user_prompt_template: '{missing}' });
    const messages = [
      { role: 'user', content: 'q' },
      { role: 'assistant', content: 'a' },
    ];
    const item = v.accept({ id: 'a', messages }, { index: 0 });
    assert.ok(item);
    assert.deepEqual(item.input, { messages });
    assert.equal(item.request_bytes, Buffer.byteLength(JSON.stringify([{ role: 'system', content: 'S' }, ...messages])));
  });

  test('unknown fields: JSON path is the item, NDJSON path is (body) with the line', () => {
    const v = new ItemValidator({});
    assert.equal(v.accept({ id: 'a', content: 'x', prompt: 'p' }, { index: 1 }), null);
    assert.equal(v.accept({ id: 'b', content: 'x', prompt: 'p', temperature: 0 }, { line: 5 }), null);
    assert.deepEqual(v.issues, [
      { path: 'items[1]', message: 'unknown field: prompt' },
      { path: '(body)', line: 5, message: 'unknown fields: prompt, temperature' },
    ]);
  });

  test('nested schema errors: JSON index paths vs NDJSON line numbers', () => {
    const v = new ItemValidator({});
    const bad = { id: 'a', messages: [{ role: 'bot', content: 'x' }] };
    v.accept(bad, { index: 3 });
    v.accept(bad, { line: 8 });
    assert.equal(v.issues.length, 2);
    assert.equal(v.issues[0]!.path, 'items[3].messages[0].role');
    assert.equal(v.issues[0]!.line, undefined);
    assert.equal(v.issues[1]!.path, 'messages[0].role');
    assert.equal(v.issues[1]!.line, 8);
  });

  test('an empty messages array or empty id is rejected', () => {
    const v = new ItemValidator({});
    assert.equal(v.accept({ id: 'a', messages: [] }, { index: 0 }), null);
    assert.equal(v.accept({ id: '', content: 'x' }, { index: 1 }), null);
    assert.deepEqual(
      v.issues.map((i) => i.path),
      ['items[0].messages', 'items[1].id'],
    );
  });

  test('a non-object item: the issue names the item (JSON) or the line body (NDJSON)', () => {
    const v = new ItemValidator({});
    assert.equal(v.accept('just a string', { index: 2 }), null);
    assert.equal(v.accept(null, { line: 4 }), null);
    assert.deepEqual(
      v.issues.map((i) => [i.path, i.line]),
      [
        ['items[2]', undefined],
        ['(body)', 4],
      ],
    );
  });

  test('without index or line the position defaults to seq', () => {
    const v = new ItemValidator({});
    v.accept({ id: 'a', content: 'x' }, {});
    v.accept({ id: 'b' }, {});
    v.accept({ id: 'a', content: 'x' }, {});
    assert.deepEqual(v.issues, [
      { path: 'items[1].content', message: 'item has nothing to send: give content, inputs or messages' },
      { path: 'items[2].id', message: 'duplicate id "a" (first at items[0])' },
    ]);
  });

  test('a template placeholder without a value: at inputs when inputs are given, else at content', () => {
    const v = new ItemValidator({ user_prompt_template: '{content} in {lang}' });
    assert.equal(v.accept({ id: 'a', content: 'x', inputs: { other: 1 } }, { index: 0 }), null);
    assert.equal(v.accept({ id: 'b', inputs: { lang: 'fr' } }, { index: 1 }), null);
    assert.equal(v.accept({ id: 'c', content: 'x' }, { line: 3 }), null);
    assert.deepEqual(v.issues, [
      { path: 'items[0].inputs', message: 'user_prompt_template placeholder {lang} has no value in this item' },
      { path: 'items[1].inputs', message: 'user_prompt_template placeholder {content} has no value in this item' },
      { path: 'content', line: 3, message: 'user_prompt_template placeholder {lang} has no value in this item' },
    ]);
  });

  test('a null input value counts as missing', () => {
    const v = new ItemValidator({ user_prompt_template: '{q}' });
    assert.equal(v.accept({ id: 'a', inputs: { q: null } }, { index: 0 }), null);
    assert.match(v.issues[0]!.message, /\{q\}/);
  });

  test(`issues are capped at MAX_ISSUES (${MAX_ISSUES}) while issueCount keeps counting`, () => {
    const v = new ItemValidator({});
    const n = MAX_ISSUES + 57;
    for (let i = 0; i < n; i++) assert.equal(v.accept({ id: `id${i}` }, { index: i }), null);
    assert.equal(v.issues.length, MAX_ISSUES);
    assert.equal(v.issueCount, n);
    assert.equal(v.issues[0]!.path, 'items[0].content');
    assert.equal(v.issues[MAX_ISSUES - 1]!.path, `items[${MAX_ISSUES - 1}].content`, 'the first issues are the ones kept');
    // add() is public (intake uses it for unparseable lines) and obeys the same cap.
    v.add({ path: '(line)', message: 'x', line: 1 });
    assert.equal(v.issues.length, MAX_ISSUES);
    assert.equal(v.issueCount, n + 1);
  });

  test('one item with several schema issues counts each of them', () => {
    const v = new ItemValidator({});
    v.accept({ id: 1, content: 2, inputs: 'no' }, { index: 0 });
    assert.equal(v.issueCount, 3);
    assert.equal(v.issues.length, 3);
  });

  describe('request_bytes', () => {
    const cases: Array<[string, string]> = [
      ['ascii', 'hello'],
      ['2-byte é', 'é'],
      ['3-byte €', '€'],
      ['4-byte emoji (surrogate pair)', '😀'],
      ['mixed CJK', '日本語のテキスト'],
      ['JSON escapes', 'a "quoted"\nline\\'],
    ];
    for (const [name, content] of cases) {
      test(`is the UTF-8 byte length of the rendered messages JSON: ${name}`, () => {
        const v = new ItemValidator({ system_prompt: 'Système' });
        const item = v.accept({ id: 'a', content }, { index: 0 });
        assert.ok(item);
        const expected = Buffer.byteLength(
          JSON.stringify([
            { role: 'system', content: 'Système' },
            { role: 'user', content },
          ]),
        );
        assert.equal(item.request_bytes, expected);
      });
    }

    test('hand-counted: "é😀" after the 27-byte prefix and 3-byte suffix is 2 + 4 bytes', () => {
      const v = new ItemValidator({});
      // [{"role":"user","content":"  is 27 bytes; "}] is 3; é is 2 and 😀 is 4 in UTF-8.
      assert.equal(v.accept({ id: 'a', content: 'é😀' }, { index: 0 })?.request_bytes, 27 + 2 + 4 + 3);
    });

    test('counts the rendered template, not the raw inputs', () => {
      const v = new ItemValidator({ user_prompt_template: 'Q: {q} / {n}' });
      const item = v.accept({ id: 'a', inputs: { q: 'ü', n: { k: [1] } } }, { index: 0 });
      assert.equal(item?.request_bytes, Buffer.byteLength(JSON.stringify([{ role: 'user', content: 'Q: ü / {"k":[1]}' }])));
    });
  });
});
