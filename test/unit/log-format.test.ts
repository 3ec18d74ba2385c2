import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatLine, logFormat, prettyStream } from '../../config/logger.js';

describe('the log format', () => {
  test('pretty on a terminal, JSON elsewhere, LOG_FORMAT first', () => {
    assert.equal(logFormat({}, { isTTY: true }), 'pretty');
    assert.equal(logFormat({}, { isTTY: false }), 'json');
    assert.equal(logFormat({}, {}), 'json');
    assert.equal(logFormat({ LOG_FORMAT: 'json' }, { isTTY: true }), 'json');
    assert.equal(logFormat({ LOG_FORMAT: 'pretty' }, {}), 'pretty');
  });

  test('one readable line per entry: time, level, name, message, then the fields', () => {
    const time = new Date(2026, 11, 1, 9, 5, 7).getTime();
    const line = JSON.stringify({
      level: 30,
      time,
      pid: 1,
      hostname: 'h',
      name: 'drover-dev',
      address: '127.0.0.1:7233',
      providers: ['openai'],
      note: 'two words',
      msg: 'Temporal dev server ready',
    });
    assert.equal(
      formatLine(line),
      '09:05:07 INFO  drover-dev  Temporal dev server ready  address=127.0.0.1:7233 providers=["openai"] note="two words"',
    );
  });

  test("an error's stack below its line, at error level only", () => {
    const err = { type: 'Error', message: 'boom', stack: 'Error: boom\n    at f (x.ts:1:1)' };
    const errorLine = formatLine(JSON.stringify({ level: 50, time: 0, msg: 'failed', err }));
    assert.match(errorLine, /ERROR failed {2}err="boom"\n {4}Error: boom\n {8}at f \(x\.ts:1:1\)$/);
    const warnLine = formatLine(JSON.stringify({ level: 40, time: 0, msg: 'retrying', err }));
    assert.ok(!warnLine.includes('\n'), warnLine);
  });

  test('ANSI colours when asked (a terminal without NO_COLOR), none otherwise', () => {
    let written = '';
    const out = {
      isTTY: true,
      write(s: string) {
        written += s;
        return true;
      },
    } as unknown as NodeJS.WritableStream & { isTTY?: boolean };
    prettyStream(out, true).write(JSON.stringify({ level: 40, time: 0, msg: 'm' }));
    assert.match(written, /\x1b\[33mWARN/);
    written = '';
    prettyStream(out, false).write(JSON.stringify({ level: 40, time: 0, msg: 'm' }));
    assert.ok(!written.includes('\x1b'), written);
  });
});
