import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildMessages } from '../../domain/prompt.js';
import { MissingPlaceholderError, placeholders, renderTemplate } from '../../domain/template.js';

describe('placeholders', () => {
  test('lists each name once, in first-seen order', () => {
    assert.deepEqual(placeholders('{b} and {a} then {b} again'), ['b', 'a']);
  });

  test('names may contain digits, underscores, dots and dashes after the first character', () => {
    assert.deepEqual(placeholders('{_x} {a1} {user.name} {kebab-case}'), ['_x', 'a1', 'user.name', 'kebab-case']);
  });

  test('escaped braces are not placeholders', () => {
    assert.deepEqual(placeholders('{{not}} {{"json": 1}}'), []);
  });

  test('a placeholder inside escaped braces is still a placeholder', () => {
    assert.deepEqual(placeholders('{{{inner}}}'), ['inner']);
  });

  test('braces around anything but a name are literal', () => {
    assert.deepEqual(placeholders('{ spaced } {1abc} {} {a b} {'), []);
  });

  test('no braces: no placeholders', () => {
    assert.deepEqual(placeholders('plain text'), []);
  });
});

describe('renderTemplate', () => {
  test('substitutes string values as-is (no quoting)', () => {
    assert.equal(renderTemplate('Hello {name}!', { name: 'Ada "Countess"' }), 'Hello Ada "Countess"!');
  });

  test('substitutes every occurrence of a placeholder', () => {
    assert.equal(renderTemplate('{x}-{x}-{y}', { x: 'a', y: 'b' }), 'a-a-b');
  });

  test('{{ and }} render as literal braces', () => {
    assert.equal(renderTemplate('Reply as {{"answer": "{q}"}}', { q: 'yes' }), 'Reply as {"answer": "yes"}');
    assert.equal(renderTemplate('{{name}}', {}), '{name}', 'an escaped name needs no value');
    assert.equal(renderTemplate('{{{name}}}', { name: 'v' }), '{v}');
  });

  test('a lone closing brace and unmatched braces are kept', () => {
    assert.equal(renderTemplate('a } b { c }}}', {}), 'a } b { c }}');
  });

  test('non-string values are JSON-encoded', () => {
    assert.equal(
      renderTemplate('{n}|{b}|{o}|{a}', { n: 42, b: false, o: { k: 'v', n: [1, 2] }, a: ['x', 1] }),
      '42|false|{"k":"v","n":[1,2]}|["x",1]',
    );
  });

  test('empty string and zero are values, not missing', () => {
    assert.equal(renderTemplate('[{s}][{z}]', { s: '', z: 0 }), '[][0]');
  });

  test('a missing value throws MissingPlaceholderError naming the placeholder', () => {
    assert.throws(
      () => renderTemplate('Hi {name}, see {missing}', { name: 'x' }),
      (err: unknown) => {
        assert.ok(err instanceof MissingPlaceholderError);
        assert.ok(err instanceof Error);
        assert.equal(err.placeholder, 'missing');
        assert.match(err.message, /\{missing\}/);
        return true;
      },
    );
  });

  test('null counts as missing; undefined too', () => {
    assert.throws(
      () => renderTemplate('{v}', { v: null }),
      (e: unknown) => e instanceof MissingPlaceholderError && e.placeholder === 'v',
    );
    assert.throws(() => renderTemplate('{v}', { v: undefined }), MissingPlaceholderError);
  });

  test('dotted names are looked up as a flat key, not a nested path', () => {
    assert.equal(renderTemplate('{user.name}', { 'user.name': 'flat' }), 'flat');
    assert.throws(() => renderTemplate('{user.name}', { user: { name: 'nested' } }), MissingPlaceholderError);
  });

  test('replacement text that looks like a placeholder or a $-pattern is not re-expanded', () => {
    assert.equal(renderTemplate('{a}', { a: '{b} $& $1', b: 'no' }), '{b} $& $1');
  });

  test('placeholders never resolve through the prototype chain', () => {
    for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__']) {
      assert.throws(
        () => renderTemplate(`{${name}}`, {}),
        (e: unknown) => e instanceof MissingPlaceholderError && e.placeholder === name,
        name,
      );
    }
  });
});

describe('buildMessages', () => {
  test('default template is {content}: one user message with the content', () => {
    assert.deepEqual(buildMessages({}, { content: 'Hello' }), [{ role: 'user', content: 'Hello' }]);
  });

  test('system prompt comes first', () => {
    assert.deepEqual(buildMessages({ system_prompt: 'Be brief.' }, { content: 'Hello' }), [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hello' },
    ]);
  });

  test('an empty system prompt adds no message', () => {
    assert.deepEqual(buildMessages({ system_prompt: '' }, { content: 'x' }), [{ role: 'user', content: 'x' }]);
  });

  test('inputs fields and content are placeholders of the template', () => {
    const msgs = buildMessages(
      { user_prompt_template: 'Translate "{content}" to {lang} ({n} words)' },
      { content: 'bonjour', inputs: { lang: 'English', n: 1 } },
    );
    assert.deepEqual(msgs, [{ role: 'user', content: 'Translate "bonjour" to English (1 words)' }]);
  });

  test('content wins over an inputs field of the same name when both are given', () => {
    assert.deepEqual(buildMessages({}, { content: 'top', inputs: { content: 'nested' } }), [{ role: 'user', content: 'top' }]);
  });

  test('a template with only inputs placeholders needs no content', () => {
    assert.deepEqual(buildMessages({ user_prompt_template: 'Q: {q}' }, { inputs: { q: 'why?' } }), [{ role: 'user', content: 'Q: why?' }]);
  });

  test('a placeholder without a value throws MissingPlaceholderError', () => {
    assert.throws(
      () => buildMessages({ user_prompt_template: '{q} {r}' }, { inputs: { q: 'x' } }),
      (e: unknown) => e instanceof MissingPlaceholderError && e.placeholder === 'r',
    );
    assert.throws(
      () => buildMessages({}, { inputs: { q: 'x' } }),
      (e: unknown) => e instanceof MissingPlaceholderError && e.placeholder === 'content',
    );
  });

  test('messages pass through unchanged after the system prompt, ignoring the template', () => {
    const messages = [
      { role: 'user' as const, content: 'hi {content}' },
      { role: 'assistant' as const, content: 'hello' },
      { role: 'user' as const, content: 'again' },
    ];
    assert.deepEqual(buildMessages({ system_prompt: 'S', user_prompt_template: 'T {missing}' }, { messages }), [
      { role: 'system', content: 'S' },
      ...messages,
    ]);
    assert.deepEqual(buildMessages({}, { messages }), messages);
  });

  test('does not mutate the item messages array', () => {
    const messages = [{ role: 'user' as const, content: 'a' }];
    const out = buildMessages({ system_prompt: 'S' }, { messages });
    assert.equal(messages.length, 1);
    assert.notEqual(out, messages);
  });

  test('an inputs field named content fills {content} when the item has no top-level content', () => {
    assert.deepEqual(buildMessages({}, { inputs: { content: 'hi' } }), [{ role: 'user', content: 'hi' }]);
    assert.deepEqual(buildMessages({}, { content: 'top', inputs: { content: 'hi' } }), [{ role: 'user', content: 'top' }]);
  });
});
