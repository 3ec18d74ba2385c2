import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { citationFields, withFieldPaths } from '../../domain/citations.js';
import { toResult } from '../../activities/outcomes.js';

describe('citations mapped to JSON fields', () => {
  const output = { company: 'ACME Corporation', amount: 120.5, lines: [{ item: 'Blue widgets, box of 12' }], note: 'ok' };

  test('a citation supports the fields whose value it quotes, or that quote it', () => {
    assert.deepEqual(citationFields(output, 'Invoice issued by ACME  corporation on 3 May.'), ['company']);
    assert.deepEqual(citationFields(output, 'widgets, box'), ['lines[0].item']);
    assert.deepEqual(citationFields(output, 'nothing related'), []);
    assert.deepEqual(citationFields(output, 'ok'), [], 'values under three characters never match');
  });

  test('citations of a JSON result gain the field paths; the rest are kept as they are', () => {
    const cited = withFieldPaths(output, [
      { type: 'char_location', cited_text: 'ACME Corporation' },
      { type: 'char_location', cited_text: 'unrelated sentence' },
    ]);
    assert.deepEqual(cited, [
      { type: 'char_location', cited_text: 'ACME Corporation', fields: ['company'] },
      { type: 'char_location', cited_text: 'unrelated sentence' },
    ]);
    assert.deepEqual(withFieldPaths('plain text', [{ type: 'x', cited_text: 'plain' }]), [{ type: 'x', cited_text: 'plain' }]);
  });

  test('toResult keeps citations with text outputs and maps them for JSON outputs', () => {
    const usage = { input_tokens: 1, cached_input_tokens: 0, output_tokens: 1, reasoning_tokens: 0 };
    const citations = [{ type: 'char_location', cited_text: 'ACME Corporation' }];
    const text = toResult(0, { ok: true, text: 'ACME', usage, truncated: false, citations }, null, { final: true });
    assert.deepEqual(text.citations, citations);
    const json = toResult(
      0,
      { ok: true, text: JSON.stringify({ company: 'ACME Corporation' }), usage, truncated: false, citations },
      { type: 'object' },
      { final: true },
    );
    assert.deepEqual(json.citations, [{ ...citations[0], fields: ['company'] }]);
  });
});
