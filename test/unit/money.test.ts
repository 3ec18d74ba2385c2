import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  checkNanos,
  decimalToNanos,
  MAX_NANOS,
  MAX_USD,
  nanosToDecimal,
  nanosToFixed,
  nanosToUsd,
  roundUsd,
  sumNanos,
  usdParam,
  usdToNanos,
} from '../../domain/money.js';

/** How many decimals a number's text has, exponent included ('3.8e-8' has 9). */
function decimalsOf(text: string): number {
  const m = /^-?\d+(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(text)!;
  return Math.max((m[1]?.length ?? 0) - Number(m[2] ?? 0), 0);
}

/** A deterministic pseudo-random sequence (mulberry32), so a failure names a value that fails again. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('money in nano-dollars', () => {
  test('renders as plain decimal text', () => {
    assert.equal(nanosToDecimal(56_800), '0.0000568');
    assert.equal(nanosToDecimal(0), '0');
    assert.equal(nanosToDecimal(1), '0.000000001');
    assert.equal(nanosToDecimal(1e9), '1');
    assert.equal(nanosToDecimal(1_234_567_890_123), '1234.567890123');
    assert.equal(nanosToDecimal(-5), '-0.000000005');
    assert.equal(nanosToDecimal(MAX_NANOS), '8388607.999999999');
    assert.equal(usdParam(3.75e-8), '0.000000038');
    assert.equal(usdParam(0.1 + 0.2), '0.3');
    assert.equal(usdParam(1e9), '1000000000');
    assert.equal(usdParam(1e21), '1e+21');
  });

  test('rounds to fewer decimals on the integer, half up', () => {
    assert.equal(nanosToFixed(1_005_000_000, 2), '1.01');
    assert.equal(nanosToFixed(1_004_999_999, 2), '1.00');
    assert.equal(nanosToFixed(-1_005_000_000, 2), '-1.01');
    assert.equal(nanosToFixed(-1, 2), '0.00');
    assert.equal(nanosToFixed(38, 9), '0.000000038');
    assert.equal(nanosToFixed(500_000_000, 0), '1');
    assert.equal(nanosToFixed(0, 4), '0.0000');
    assert.throws(() => nanosToFixed(1, 10), RangeError);
  });

  test('parses decimal text exactly, rounding half away from zero at the ninth decimal', () => {
    assert.equal(decimalToNanos('0.0000568'), 56_800);
    assert.equal(decimalToNanos('0.0000000375'), 38);
    assert.equal(decimalToNanos('3.75e-8'), 38);
    assert.equal(decimalToNanos('0.0000000374999999999999'), 37);
    assert.equal(decimalToNanos('-0.0000000375'), -38);
    assert.equal(decimalToNanos('5e-10'), 1);
    assert.equal(decimalToNanos('4.9e-10'), 0);
    assert.equal(decimalToNanos('1e-30'), 0);
    assert.equal(decimalToNanos('12'), 12e9);
    assert.equal(decimalToNanos('.5'), 5e8);
    assert.equal(decimalToNanos('1.5E+3'), 1500e9);
    assert.equal(decimalToNanos('0.30000000000000004'), 300_000_000);
    assert.equal(decimalToNanos('8388607.999999999'), MAX_NANOS);
    for (const bad of ['', '.', 'abc', '1..2', '1e', '0x10', '1,5']) assert.throws(() => decimalToNanos(bad), RangeError, bad);
    assert.throws(() => decimalToNanos('1e300'), RangeError);
    // Past 2^53 nano-dollars: the nearest double, not an error (see the module's comment).
    assert.equal(decimalToNanos('9007199.254740993'), 2 ** 53);
  });

  test('takes dollars in a number as the decimal it prints as', () => {
    assert.equal(usdToNanos(0.1 + 0.2), 300_000_000);
    assert.equal(usdToNanos(3.75e-8), 38, 'a tie goes up, however the double falls');
    assert.equal(usdToNanos(1.0000000005), 1_000_000_001);
    assert.equal(usdToNanos(-0), 0);
    assert.ok(Object.is(usdToNanos(-0), 0));
    assert.equal(usdToNanos(MAX_USD), MAX_NANOS);
    for (const bad of [NaN, Infinity, -Infinity]) assert.throws(() => usdToNanos(bad), RangeError);
  });

  test('sums are integer sums: 0.1 + 0.2 is 0.3', () => {
    const sum = sumNanos([usdToNanos(0.1), usdToNanos(0.2)]);
    assert.equal(nanosToUsd(sum), 0.3);
    assert.equal(roundUsd(0.1 + 0.2), 0.3);
    assert.equal(roundUsd(0.0000000751), 0.000000075);
    // Three hundred costs of 3.75e-8 dollars as floats show noise; as nanos they do not.
    let floats = 0;
    for (let i = 0; i < 300; i++) floats += 3.75e-8 * 3;
    assert.notEqual(String(floats), '0.00003375');
    assert.equal(String(nanosToUsd(sumNanos(Array.from({ length: 300 }, () => 113)))), '0.0000339');
  });

  test('within the bound, every amount prints exactly as its decimal and parses back to itself', () => {
    const next = random(12);
    const samples = [0, 1, 5, 37, 999_999_999, MAX_NANOS, MAX_NANOS - 1, 2 ** 52, 4_194_304e9 - 1, 4_194_304e9];
    for (let i = 0; i < 50_000; i++) {
      // Spread over every magnitude, from a nano-dollar to the bound.
      const digits = 1 + Math.floor(next() * 16);
      samples.push(Math.min(Math.floor(next() * 10 ** digits), MAX_NANOS));
    }
    for (const n of samples) {
      const text = String(nanosToUsd(n));
      if (decimalsOf(text) > 9 || decimalToNanos(text) !== n || Number(nanosToDecimal(n)) !== nanosToUsd(n))
        assert.fail(`${n} nano-dollars print as ${text}`);
    }
  });

  test('guards the bound and whole numbers', () => {
    assert.equal(checkNanos(MAX_NANOS), MAX_NANOS);
    assert.throws(() => checkNanos(MAX_NANOS + 1), RangeError);
    assert.throws(() => checkNanos(1.5), RangeError);
    assert.throws(() => nanosToUsd(0.5), RangeError);
    // Past the bound nothing throws (a workflow must not fail on a forecast): integers stay integers.
    assert.equal(nanosToDecimal(2 ** 53), '9007199.254740992');
    assert.equal(nanosToDecimal(2 ** 60), '1152921504.606846976');
    assert.equal(usdToNanos(1e10), 1e19);
    assert.equal(nanosToUsd(1e19), 1e10);
    assert.equal(MAX_USD, 8_388_607.999999999);
  });
});
