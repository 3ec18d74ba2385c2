import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  BATCH_OPTIONS,
  GLOBAL_OPTIONS,
  limitsFromFlags,
  parseDeadline,
  parseDuration,
  parseField,
  parseFlags,
  parseUsd,
  splitCommand,
  type Flags,
} from '../../cli/args.js';
import { batchBody, inputFormat, responseFormatFrom } from '../../cli/batch-request.js';
import { UsageError } from '../../cli/errors.js';
import { formatFor } from '../../cli/commands/results.js';

/** The command line's pure half: argv to flags, flags to request bodies. No server. */

const OPTIONS = { ...GLOBAL_OPTIONS, ...BATCH_OPTIONS, 'no-wait': { type: 'boolean' }, detach: { type: 'boolean' } } as const;

function flags(...argv: string[]): Flags {
  return parseFlags('submit', argv, OPTIONS).flags;
}

function body(...argv: string[]): Record<string, unknown> {
  return batchBody(flags(...argv));
}

/** Asserts a UsageError whose message names `flag`. */
function usage(fn: () => unknown, flag: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UsageError, `a UsageError, got ${String(err)}`);
    if (typeof flag === 'string') assert.ok(err.message.includes(flag), `"${err.message}" names ${flag}`);
    else assert.match(err.message, flag);
    return true;
  });
}

describe('splitCommand', () => {
  test('finds the command wherever the global flags are', () => {
    assert.deepEqual(splitCommand(['--url', 'http://x:1', 'status', 'b1', '--json']), {
      command: 'status',
      rest: ['--url', 'http://x:1', 'b1', '--json'],
    });
    assert.deepEqual(splitCommand(['--json', 'list']), { command: 'list', rest: ['--json'] });
    assert.deepEqual(splitCommand(['--help']), { command: undefined, rest: ['--help'] });
    assert.deepEqual(splitCommand([]), { command: undefined, rest: [] });
  });
});

describe('flags to the request body', () => {
  test('classify: categories split on commas and repeated, multi-label, instructions', () => {
    assert.deepEqual(
      body(
        '--model',
        'gpt-4.1-mini',
        '--operation',
        'classify',
        '--categories',
        'positive, negative',
        '--categories',
        'neutral',
        '--multi-label',
        '--instructions',
        'Be strict.',
      ),
      {
        model: 'gpt-4.1-mini',
        operation: 'classify',
        categories: ['positive', 'negative', 'neutral'],
        multi_label: true,
        instructions: 'Be strict.',
      },
    );
  });

  test("an operation's own flag names it when --operation is left out", () => {
    assert.equal(body('-m', 'm', '--categories', 'a,b').operation, 'classify');
    assert.equal(body('-m', 'm', '--max-words', '10').operation, 'summarize');
    assert.equal(body('-m', 'm', '--field', 'x:string').operation, 'enrich');
    assert.equal(body('-m', 'm', '--prompt', 'Hi {content}').operation, undefined);
  });

  test('extract: instructions and the schema file (its $schema dropped)', () => {
    const schema = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: { total: { type: 'number' } },
      required: ['total'],
    };
    const b = batchBody(
      flags('-m', 'm', '--operation', 'extract', '--extraction-instructions', 'The invoice total', '--schema', 'invoice.json'),
      { schema: { path: 'invoice.json', value: schema } },
    );
    assert.deepEqual(b, {
      model: 'm',
      operation: 'extract',
      extraction_instructions: 'The invoice total',
      schema: { type: 'object', properties: { total: { type: 'number' } }, required: ['total'] },
    });
  });

  test('summarize: instructions and max words', () => {
    assert.deepEqual(body('-m', 'm', '--operation', 'summarize', '--summary-instructions', 'For a CFO', '--max-words', '40'), {
      model: 'm',
      operation: 'summarize',
      summary_instructions: 'For a CFO',
      max_words: 40,
    });
  });

  test('enrich: --fields file and repeated --field name:type[:values]', () => {
    const b = batchBody(
      flags(
        '-m',
        'm',
        '--operation',
        'enrich',
        '--fields',
        'f.json',
        '--field',
        'urgency:categorical:low|medium|high',
        '--field',
        'is_bug:boolean',
      ),
      {
        fields: { fields: [{ name: 'product', type: 'string', description: 'what it is about' }] },
      },
    );
    assert.deepEqual(b.fields, [
      { name: 'product', type: 'string', description: 'what it is about' },
      { name: 'urgency', type: 'categorical', valid_values: ['low', 'medium', 'high'] },
      { name: 'is_bug', type: 'boolean' },
    ]);
  });

  test('run: prompts, and --schema as a json_schema response format (strict when the schema allows it)', () => {
    const schema = { type: 'object', properties: { label: { type: 'string' } }, required: ['label'], additionalProperties: false };
    const b = batchBody(
      flags('-m', 'm', '--operation', 'run', '--system-prompt', 'You tag.', '--prompt', 'Tag: {text}', '--schema', 'dir/tag.schema.json'),
      {
        schema: { path: 'dir/tag.schema.json', value: schema },
      },
    );
    assert.deepEqual(b, {
      model: 'm',
      operation: 'run',
      system_prompt: 'You tag.',
      user_prompt_template: 'Tag: {text}',
      response_format: { type: 'json_schema', json_schema: { name: 'tag_schema', schema, strict: true } },
    });
    const loose = responseFormatFrom({ type: 'object', properties: { a: { type: 'string' } } }, 'x.json');
    assert.equal((loose.json_schema as Record<string, unknown>).strict, undefined, 'not strict-compatible: strict left off');
    const given = { type: 'json_schema', json_schema: { name: 'mine', schema: {} } };
    assert.equal(responseFormatFrom(given, 'x.json'), given, 'a full response_format is taken as is');
  });

  test('settings: mode, cost, time limit, webhook, idempotency, metadata, sizes', () => {
    assert.deepEqual(
      body(
        '-m',
        'm',
        '--mode',
        'batch',
        '--max-cost',
        '$12.50',
        '--time-limit',
        '1h30m',
        '--webhook-url',
        'https://example.com/hook',
        '--idempotency-key',
        'k1',
        '--metadata',
        'team=search',
        '--metadata',
        'run=7',
        '--chunk-size',
        '500',
        '--max-parallel-chunks',
        '2',
        '--max-attempts',
        '4',
        '--max-output-tokens',
        '300',
        '--on-budget-exhausted',
        'stop',
      ),
      {
        model: 'm',
        mode: 'batch',
        max_cost_usd: 12.5,
        time_limit_seconds: 5400,
        webhook_url: 'https://example.com/hook',
        idempotency_key: 'k1',
        metadata: { team: 'search', run: '7' },
        chunk_size: 500,
        max_parallel_chunks: 2,
        max_attempts: 4,
        max_output_tokens: 300,
        on_budget_exhausted: 'stop',
      },
    );
  });

  test('--spec gives the fields, flags override them, and a flag deadline replaces a spec time limit', () => {
    const spec = {
      model: 'from-spec',
      max_cost_usd: 1,
      time_limit_seconds: 60,
      metadata: { a: '1' },
      operation: 'classify',
      categories: ['x', 'y'],
    };
    const b = batchBody(flags('--spec', 's.json', '--max-cost', '2', '--deadline', '2030-01-02T03:04:05+02:00', '--metadata', 'b=2'), {
      spec,
    });
    assert.deepEqual(b, {
      model: 'from-spec',
      max_cost_usd: 2,
      deadline: '2030-01-02T01:04:05.000Z',
      metadata: { a: '1', b: '2' },
      operation: 'classify',
      categories: ['x', 'y'],
    });
    usage(() => batchBody(flags('-m', 'm'), { spec: [1, 2] }), '--spec');
    usage(() => batchBody(flags('-m', 'm'), { spec: { items: [] } }), '--spec');
    usage(() => batchBody(flags('--categories', 'a,b'), { spec: { model: 'm', operation: 'extract' } }), '--categories');
  });

  test('bad flags are usage errors that name the flag', () => {
    usage(() => body('--operation', 'classify', '--categories', 'a,b'), '--model');
    usage(() => body('-m', 'm', '--max-cost', 'lots'), '--max-cost');
    usage(() => body('-m', 'm', '--max-cost', '0'), '--max-cost');
    usage(() => body('-m', 'm', '--mode', 'fast'), '--mode');
    usage(() => body('-m', 'm', '--operation', 'translate'), '--operation');
    usage(() => body('-m', 'm', '--chunk-size', '1.5'), '--chunk-size');
    usage(() => body('-m', 'm', '--max-words', '-3'), '--max-words');
    usage(() => body('-m', 'm', '--time-limit', 'soon'), '--time-limit');
    usage(() => body('-m', 'm', '--deadline', 'tomorrow'), '--deadline');
    usage(() => body('-m', 'm', '--deadline', '2030-01-01T00:00:00Z', '--time-limit', '1h'), '--time-limit');
    usage(() => body('-m', 'm', '--metadata', 'novalue'), '--metadata');
    usage(() => body('-m', 'm', '--operation', 'extract', '--categories', 'a,b'), '--categories');
    usage(() => body('-m', 'm', '--categories', 'a,b', '--max-words', '3'), /different operations/);
    usage(
      () => batchBody(flags('-m', 'm', '--operation', 'summarize', '--schema', 's.json'), { schema: { path: 's.json', value: {} } }),
      '--schema',
    );
    usage(() => flags('--frobnicate'), '--frobnicate');
    usage(() => flags('--model'), '--model');
    usage(() => flags('--multi-label=yes'), '--multi-label');
    usage(() => inputFormat('items.xlsx'), 'FILE');
  });

  test('--field parsing', () => {
    assert.deepEqual(parseField('score:number'), { name: 'score', type: 'number' });
    assert.deepEqual(parseField('tone:categorical:formal|casual'), {
      name: 'tone',
      type: 'categorical',
      valid_values: ['formal', 'casual'],
    });
    usage(() => parseField('tone'), '--field');
    usage(() => parseField('tone:colour'), '--field tone');
    usage(() => parseField('tone:categorical'), 'categorical');
    usage(() => parseField('n:number:1|2'), 'only categorical');
  });
});

describe('values', () => {
  test('durations', () => {
    assert.equal(parseDuration('90s'), 90);
    assert.equal(parseDuration('30m'), 1800);
    assert.equal(parseDuration('2h'), 7200);
    assert.equal(parseDuration('1h30m'), 5400);
    assert.equal(parseDuration('1d'), 86_400);
    assert.equal(parseDuration('1.5h'), 5400);
    assert.equal(parseDuration('45'), 45);
    for (const bad of ['', '0', '0s', '10x', 'h', '-5m', '5 m']) usage(() => parseDuration(bad), '--time-limit');
  });

  test('amounts and deadlines', () => {
    assert.equal(parseUsd('25'), 25);
    assert.equal(parseUsd('$0.50'), 0.5);
    assert.equal(parseUsd('.5'), 0.5);
    usage(() => parseUsd('-1'), '--max-cost');
    usage(() => parseUsd('1e3'), '--max-cost');
    assert.equal(parseDeadline('2030-06-01T18:00:00Z'), '2030-06-01T18:00:00.000Z');
    usage(() => parseDeadline('June 1st'), '--deadline');
  });

  test('limits: none removes, at least one is needed', () => {
    const p = (...argv: string[]) =>
      limitsFromFlags(
        parseFlags('limits', argv, { 'max-cost': { type: 'string' }, deadline: { type: 'string' }, 'time-limit': { type: 'string' } })
          .flags,
      );
    assert.deepEqual(p('--max-cost', '25'), { max_cost_usd: 25 });
    assert.deepEqual(p('--max-cost', 'none', '--deadline', 'none'), { max_cost_usd: null, deadline: null });
    assert.deepEqual(p('--time-limit', '30m'), { time_limit_seconds: 1800 });
    usage(() => p(), '--max-cost');
    usage(() => p('--max-cost', 'free'), '--max-cost');
    usage(() => p('--deadline', 'none', '--time-limit', '1h'), '--time-limit');
  });

  test('results format: flag, then --out extension, then jsonl (json under --json)', () => {
    assert.equal(formatFor('csv', undefined, false), 'csv');
    assert.equal(formatFor(undefined, 'out.CSV', false), 'csv');
    assert.equal(formatFor(undefined, 'out.json', false), 'json');
    assert.equal(formatFor(undefined, 'out.txt', false), 'jsonl');
    assert.equal(formatFor(undefined, undefined, false), 'jsonl');
    assert.equal(formatFor(undefined, undefined, true), 'json');
    usage(() => formatFor('xml', undefined, false), '--format');
  });
});
