/**
 * The peers bench's pure half: the line a Python driver prints, one tool's measurement, and the
 * table that sets each peer beside Drover. No I/O, so it is unit-tested.
 */

export const TOOLS = ['batchata', 'curator', 'drover'] as const;
export type Tool = (typeof TOOLS)[number];

/** What `workload.result_line` prints, after `RESULT `. */
export interface PeerResult {
  tool: string;
  items: number;
  succeeded: number;
  failed: number;
  /** From the tool's first call to its results on disk, imports excluded. */
  seconds: number;
  /** The driver's own peak RSS as it exits (getrusage), kB. */
  maxrss_kb?: number;
}

/** The last `RESULT {json}` line of a driver's stdout, or undefined if it printed none. */
export function parseResultLine(stdout: string): PeerResult | undefined {
  const line = stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('RESULT '));
  if (line === undefined) return undefined;
  const r = JSON.parse(line.slice('RESULT '.length)) as Partial<PeerResult>;
  for (const key of ['items', 'succeeded', 'failed', 'seconds'] as const) {
    if (typeof r[key] !== 'number') throw new Error(`RESULT line without a numeric ${key}: ${line}`);
  }
  if (typeof r.tool !== 'string') throw new Error(`RESULT line without a tool: ${line}`);
  return r as PeerResult;
}

/** One tool at one size. A run that did not finish in time has `timedOutAfter` and no `seconds`. */
export interface Measurement {
  tool: Tool;
  items: number;
  /** Median over the runs that finished (all of them, or the run is a timeout). */
  seconds?: number;
  /** Each finished run's seconds, in order. */
  runs: number[];
  timedOutAfter?: number;
  /** Peak RSS in MB: the largest over the runs. */
  peakMb: number;
  /** Succeeded items in the last finished run (equal to `items` when it is right). */
  succeeded?: number;
  note?: string;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of nothing');
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** How many times faster Drover was: exact when both finished, a lower bound when the peer timed out. */
export function speedup(peer: Measurement, drover: Measurement): { value: number; lowerBound: boolean } | undefined {
  if (drover.seconds === undefined) return undefined;
  if (peer.seconds !== undefined) return { value: peer.seconds / drover.seconds, lowerBound: false };
  if (peer.timedOutAfter !== undefined) return { value: peer.timedOutAfter / drover.seconds, lowerBound: true };
  return undefined;
}

const fmtSeconds = (s: number): string => (s >= 100 ? s.toFixed(0) : s.toFixed(1));
const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');

export function formatWall(m: Measurement): string {
  if (m.seconds !== undefined) {
    const runs = m.runs.length > 1 ? ` (${m.runs.map(fmtSeconds).join(', ')})` : '';
    return `${fmtSeconds(m.seconds)} s${runs}`;
  }
  return m.timedOutAfter !== undefined ? `> ${fmtSeconds(m.timedOutAfter)} s` : 'failed';
}

export function formatRate(m: Measurement): string {
  if (m.seconds !== undefined) return fmtInt(m.items / m.seconds);
  return m.timedOutAfter !== undefined ? `< ${fmtInt(m.items / m.timedOutAfter)}` : '-';
}

export function formatSpeedup(m: Measurement, drover: Measurement | undefined): string {
  if (m.tool === 'drover') return '1×';
  const r = drover && speedup(m, drover);
  if (!r) return '-';
  return `${r.lowerBound ? '> ' : ''}${r.value.toFixed(1)}×`;
}

/** A Markdown table, one row per tool and size, Drover's ratio beside each peer. */
export function formatTable(ms: readonly Measurement[]): string {
  const header = ['items', 'tool', 'wall time', 'items/s', 'peak RSS', 'Drover faster by', 'note'];
  const rows = ms.map((m) => {
    const drover = ms.find((d) => d.tool === 'drover' && d.items === m.items);
    return [fmtInt(m.items), m.tool, formatWall(m), formatRate(m), `${fmtInt(m.peakMb)} MB`, formatSpeedup(m, drover), m.note ?? ''];
  });
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
