import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { countTokens } from 'gpt-tokenizer/model/gpt-4o';
import { mulberry32 } from '../../emulator/random.js';
import { countO200k } from '../../domain/o200k-count.js';

// Letters of both cases, digits, contractions, punctuation runs, slashes, every kind of ASCII space.
const ALPHABET = 'aAbZz09 5\n\r\t\v\f\'sSdDllLLvEreMmtT.,;:!?/-_()[]{}"#$%&*+=@^`~\\|<>  \n\n  xyzQWE';

function randomText(rand: () => number, maxLen: number): string {
  const len = 1 + Math.floor(rand() * maxLen);
  let s = '';
  for (let i = 0; i < len; i++) s += ALPHABET[Math.floor(rand() * ALPHABET.length)];
  return s;
}

describe('countO200k', () => {
  test('counts random ASCII text exactly as the tokenizer does', () => {
    const rand = mulberry32(12);
    for (let k = 0; k < 20_000; k++) {
      const text = randomText(rand, 80);
      if (text.includes('<|')) continue;
      assert.equal(countO200k(text), countTokens(text), JSON.stringify(text));
    }
  });

  test('counts prose, code, numbers and long runs exactly', () => {
    const texts = [
      'Customer review 123456: arrived on time, works as described, would buy again.',
      "It's what they'd've DONE, isn't it? I'LL see. We're OK; you've GOT mail.",
      'function f(x) {\n\treturn x * 2; // doubled\r\n}\n\n\n    indented\n',
      '3.14159265358979 1,000,000 2026-12-01T18:53:42Z https://example.com/a/b?c=d&e=f',
      'a'.repeat(300) + ' ' + ' '.repeat(40) + 'B'.repeat(50) + '\n'.repeat(7),
      'CamelCaseWordsAndALLCAPSThenLower mixedUPPERlower',
    ];
    for (const text of texts) assert.equal(countO200k(text), countTokens(text), JSON.stringify(text));
  });

  test('text that is not ASCII is counted by the tokenizer itself', () => {
    for (const text of ['Déjà vu à Paris', '日本語のテキスト', 'emoji 🎉 party', 'naïve café'])
      assert.equal(countO200k(text), countTokens(text));
  });

  test('a special token is refused as the tokenizer refuses it', () => {
    assert.throws(() => countO200k('before <|endoftext|> after'), /special token/i);
  });
});
