/** Small text formatters shared by the progress line, summaries and tables. Pure. */

/**
 * Dollars for people: `$12.35` and `$1,204.50` from a dollar up; below it three significant
 * digits and at least two decimals (`$0.41`, `$0.0123`, `$0.000016`, `$0.0000001`), since one
 * cheap call costs millionths of a dollar. Never `$0.` nor exponent notation, and no float noise
 * (`0.1 + 0.2` is `$0.30`). The one money formatter of the CLI.
 */
export function formatUsd(usd: number): string {
  if (!Number.isFinite(usd)) return `$${usd}`;
  const sign = usd < 0 ? '-' : '';
  const a = Math.abs(usd);
  if (a === 0) return '$0.00';
  if (a >= 1) return `${sign}$${a.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  const text = a.toLocaleString('en-US', { maximumSignificantDigits: 3, useGrouping: false });
  const [whole, frac = ''] = text.split('.');
  return `${sign}$${whole}.${frac.padEnd(2, '0')}`;
}

/** A rate per million tokens as given (`$0.4`, `$1.6`, `$0.075`), without float noise. */
export function formatRate(usd: number): string {
  return `$${usd.toLocaleString('en-US', { maximumSignificantDigits: 6, useGrouping: false })}`;
}

/** `45s`, `2m 05s`, `1h 02m`, `3d 04h`: two units at most, enough to read at a glance. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${String(h % 24).padStart(2, '0')}h`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${formatCount(n)} ${n === 1 ? word : many}`;
}

/** Which ANSI styles a stream gets: none unless it is a terminal and NO_COLOR is unset. */
export interface Style {
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

const wrap = (open: number, close: number) => (s: string) => `\x1b[${open}m${s}\x1b[${close}m`;

export const COLOR: Style = { green: wrap(32, 39), red: wrap(31, 39), yellow: wrap(33, 39), dim: wrap(2, 22), bold: wrap(1, 22) };
const id = (s: string) => s;
export const PLAIN: Style = { green: id, red: id, yellow: id, dim: id, bold: id };

export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Style {
  if (!stream.isTTY || env.NO_COLOR !== undefined || env.TERM === 'dumb') return PLAIN;
  return COLOR;
}

/** A batch status, coloured by how it ended. */
export function styleStatus(status: string, style: Style): string {
  if (status === 'completed') return style.green(status);
  if (status === 'completed_with_failures' || status === 'paused' || status === 'awaiting_budget' || status === 'cancelling')
    return style.yellow(status);
  if (['failed', 'cancelled', 'timed_out', 'budget_exhausted'].includes(status)) return style.red(status);
  return status;
}

const ANSI = /\x1b\[[0-9;]*m/g;

/** The width a string takes on screen: ANSI codes take none. */
export function visibleLength(s: string): number {
  return [...s.replace(ANSI, '')].length;
}
