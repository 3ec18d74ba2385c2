/**
 * Money as an integer count of nano-dollars (1e-9 USD) in a JS number. Sums of integers are
 * exact where sums of dollars in binary floating point are not (0.1 + 0.2 is 0.30000000000000004),
 * and a nano-dollar is below any price's resolution that matters: a token at $0.075 per million
 * is 75 nano-dollars. Conversions to dollars happen only at the edges (JSON, SQL, text), each
 * from one integer, so what is shown is exactly what was added up.
 *
 * Bound: MAX_NANOS, $8,388,607.999999999. Below 2^23 dollars the spacing of doubles is under a
 * nano-dollar, so `n / 1e9` prints as exactly the decimal `n` stands for, and integer sums are
 * exact (to 2^53, about $9,007,199). Inputs are held to it: a call's cost (checkNanos, a
 * RangeError), a batch's `max_cost_usd` (a 400), a price per million tokens (PRICE_MAX). Past it
 * (a forecast of a huge batch with a dear output cap), amounts degrade to ordinary floating
 * point, exact to their last place or two, and nothing throws: a workflow must not fail on money.
 */

/** An integer count of nano-dollars. */
export type Nanos = number;

export const NANOS_PER_USD = 1e9;
/** The largest amount whose dollars print exactly (see the module's comment): 2^23 dollars less a nano-dollar. */
export const MAX_NANOS: Nanos = 2 ** 23 * NANOS_PER_USD - 1;
export const MAX_USD = MAX_NANOS / NANOS_PER_USD;

/** Throws unless `n` is a whole number of nano-dollars within the bound; returns it. For inputs. */
export function checkNanos(n: Nanos): Nanos {
  if (!Number.isInteger(n) || Math.abs(n) > MAX_NANOS) throw new RangeError(`${n} is not an amount of nano-dollars within ±${MAX_NANOS}`);
  return n;
}

/** Throws unless `n` is a whole number: a fraction of a nano-dollar is a bug, not an amount. */
function wholeNanos(n: Nanos): Nanos {
  if (!Number.isInteger(n)) throw new RangeError(`${n} is not a whole number of nano-dollars`);
  return n;
}

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * A decimal text (as PostgreSQL prints a numeric, or as JavaScript prints a number, exponent
 * included) in nano-dollars, rounded half away from zero at the ninth decimal, by string
 * arithmetic: no binary fraction is ever involved.
 */
export function decimalToNanos(text: string): Nanos {
  const m = DECIMAL.exec(text.trim());
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new RangeError(`not a decimal amount: ${JSON.stringify(text)}`);
  const [, sign, whole = '', fraction = '', exponent = '0'] = m;
  const digits = (whole + fraction).replace(/^0+/, '');
  if (digits === '') return 0;
  // The value is digits × 10^point; nanos are digits × 10^(point + 9).
  const point = Number(exponent) - fraction.length;
  const shift = point + 9;
  if (shift > 300) throw new RangeError(`${text} is not an amount of dollars`);
  let nanos: bigint;
  if (shift >= 0) nanos = BigInt(digits) * 10n ** BigInt(shift);
  // Below a tenth of a nano-dollar: rounds to nothing.
  else if (-shift > digits.length) nanos = 0n;
  else {
    const kept = digits.slice(0, digits.length + shift);
    nanos = BigInt(kept || '0') + (digits[digits.length + shift]! >= '5' ? 1n : 0n);
  }
  const n = Number(nanos);
  return sign === '-' && n !== 0 ? -n : n;
}

/**
 * Dollars, as a JavaScript number, in nano-dollars: the decimal the number prints as, rounded
 * half away from zero. Exact for every input (user limits, stored costs, activity results); a
 * value whose scaled product is far from a half takes the fast path, the rest the decimal one.
 */
export function usdToNanos(usd: number): Nanos {
  if (!Number.isFinite(usd)) throw new RangeError(`${usd} is not an amount of dollars`);
  const scaled = usd * NANOS_PER_USD;
  const n = Math.round(scaled);
  // `scaled` is within a few units of its last place of the exact decimal × 1e9, so when it is
  // that far from a half, rounding it is rounding the decimal.
  if (Math.abs(scaled - n) < 0.5 - Math.abs(scaled) * 4e-16 - 1e-6) return n === 0 ? 0 : n;
  return decimalToNanos(String(usd));
}

/** Nano-dollars as dollars in a JSON number: one division of an integer, which prints exactly. */
export function nanosToUsd(n: Nanos): number {
  return wholeNanos(n) / NANOS_PER_USD;
}

/** Nano-dollars as a plain decimal text, for SQL numeric parameters and CSV: 56800 is '0.0000568'. */
export function nanosToDecimal(n: Nanos): string {
  const sign = n < 0 ? '-' : '';
  const abs = Math.abs(wholeNanos(n));
  if (!Number.isSafeInteger(abs)) {
    // Past 2^53 a double prints with an exponent; its integer is still exact as a BigInt.
    const digits = BigInt(abs).toString();
    return `${sign}${digits.slice(0, -9)}.${digits.slice(-9)}`.replace(/\.?0+$/, '');
  }
  // Integer arithmetic only (one write per result row: this is on the hot path).
  let dollars = Math.floor(abs / NANOS_PER_USD);
  let fraction = abs - dollars * NANOS_PER_USD;
  if (fraction < 0) ((dollars -= 1), (fraction += NANOS_PER_USD));
  if (fraction === 0) return `${sign}${dollars}`;
  let places = 9;
  while (fraction % 10 === 0) ((fraction /= 10), places--);
  const digits = String(fraction);
  return `${sign}${dollars}.${'0'.repeat(places - digits.length)}${digits}`;
}

/**
 * Nano-dollars as a decimal text with exactly `places` decimals (0 to 9), rounded half away from
 * zero on the integer: `(1.005).toFixed(2)` is '1.00' because of the binary fraction, this is '1.01'.
 */
export function nanosToFixed(n: Nanos, places: number): string {
  wholeNanos(n);
  if (!Number.isInteger(places) || places < 0 || places > 9) throw new RangeError(`${places} decimals: 0 to 9`);
  const unit = 10 ** (9 - places);
  const q = Math.floor(Math.abs(n) / unit) + (Math.abs(n) % unit >= unit / 2 ? 1 : 0);
  const digits = String(q).padStart(places + 1, '0');
  const whole = digits.slice(0, digits.length - places);
  return `${n < 0 && q > 0 ? '-' : ''}${whole}${places > 0 ? `.${digits.slice(-places)}` : ''}`;
}

/** `$0.0000568`, `$5.00`: dollars as the API rounds them (to the nano-dollar), written out without float noise or exponents. */
export function usdText(usd: number): string {
  const [whole, frac = ''] = nanosToDecimal(usdToNanos(usd)).split('.');
  return `$${whole}.${frac.padEnd(2, '0')}`;
}

/** Dollars rounded to the nano-dollar, without the binary noise of earlier additions. */
export function roundUsd(usd: number): number {
  return nanosToUsd(usdToNanos(usd));
}

/**
 * Dollars as a SQL numeric parameter: the decimal text of the nearest nano-dollar, never an
 * exponent or a binary tail. Past the bound, where a double holds no nano-dollars, the number as
 * it prints (PostgreSQL reads `1e+21` too).
 */
export function usdParam(usd: number): string {
  return Math.abs(usd) > MAX_USD && Number.isFinite(usd) ? String(usd) : nanosToDecimal(usdToNanos(usd));
}

/** The integer sum of amounts (exact below 2^53). */
export function sumNanos(amounts: Iterable<Nanos>): Nanos {
  let sum = 0;
  for (const n of amounts) sum += n;
  return sum;
}
