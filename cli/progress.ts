import type { BatchView } from '../client/index.js';
import { isTerminal } from '../client/index.js';
import { formatCount, formatDuration, formatUsd, PLAIN, styleStatus, visibleLength, type Style } from './format.js';

/**
 * The live progress display of a batch being waited on. The line itself is a pure function of a
 * BatchView and the time, so it is tested without a terminal; the renderers only decide when
 * and how it reaches stderr.
 */

export interface Figures {
  done: number;
  total: number;
  /** 0 to 100, whole. */
  percent: number;
}

export function figures(b: BatchView): Figures {
  const { total, succeeded, failed, cancelled } = b.counts;
  const done = succeeded + failed + cancelled;
  // Floor, so 100% means every item is done, never 99.6% rounded up.
  const percent = total > 0 ? Math.floor((done / total) * 100) : isTerminal(b.status) ? 100 : 0;
  return { done, total, percent };
}

const ETA_STATUSES = new Set<string>(['queued', 'running']);

/**
 * The ETA worth showing: only while items are being worked on (not paused, waiting for budget or
 * stopping) and only ahead of now. A projected time already past says nothing true, so it is left out.
 */
export function liveEta(b: BatchView, now: number): string | null {
  if (!b.eta || !ETA_STATUSES.has(b.status)) return null;
  return Date.parse(b.eta) > now ? b.eta : null;
}
/** Spent, and the limit when there is one: `$0.0123 / $5.00`. */
export function costText(b: BatchView): string {
  return b.cost.limit_usd === null ? formatUsd(b.cost.spent_usd) : `${formatUsd(b.cost.spent_usd)} / ${formatUsd(b.cost.limit_usd)}`;
}

/** `ETA 1m 20s` while running, `4m 10s elapsed` when the API has no estimate, `done in 12s` once ended. */
export function timeText(b: BatchView, now: number): string {
  if (isTerminal(b.status)) {
    const end = b.completed_at ? Date.parse(b.completed_at) : now;
    return `done in ${formatDuration(end - Date.parse(b.created_at))}`;
  }
  // Without an estimate (paused, or a provider batch that reports nothing until it is done) the
  // time so far at least shows the watch is alive.
  const eta = liveEta(b, now);
  if (eta === null) return `${formatDuration(now - Date.parse(b.created_at))} elapsed`;
  return `ETA ${formatDuration(Date.parse(eta) - now)}`;
}

export function bar(percent: number, width: number): string {
  const filled = Math.round((Math.min(100, Math.max(0, percent)) / 100) * width);
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

export interface LineOptions {
  style?: Style | undefined;
  /** The terminal's width: the line is fitted into it so `\r` redraws stay on one row. */
  columns?: number | undefined;
}

const MAX_BAR = 24;
const MIN_BAR = 10;

/**
 * The terminal form, redrawn in place:
 * `[██████░░░░]  52%  156/300  ✓ 150  ✗ 6  $0.0123 / $5.00  ETA 1m 20s  running`
 */
export function progressLine(b: BatchView, now: number, opts: LineOptions = {}): string {
  const style = opts.style ?? PLAIN;
  const f = figures(b);
  const parts = [
    `${String(f.percent).padStart(3)}%`,
    `${formatCount(f.done)}/${formatCount(f.total)}`,
    style.green(`✓ ${formatCount(b.counts.succeeded)}`),
    b.counts.failed > 0 ? style.red(`✗ ${formatCount(b.counts.failed)}`) : `✗ 0`,
  ];
  if (b.counts.cancelled > 0) parts.push(style.yellow(`⊘ ${formatCount(b.counts.cancelled)}`));
  parts.push(costText(b));
  parts.push(timeText(b, now));
  parts.push(styleStatus(b.status, style));
  const rest = parts.join('  ');
  const columns = opts.columns ?? 100;
  // Keep one column free: writing into the last one makes some terminals wrap.
  const room = columns - 1 - visibleLength(rest) - 4;
  if (room >= MIN_BAR) return `[${bar(f.percent, Math.min(MAX_BAR, room))}]  ${rest}`;
  if (visibleLength(rest) <= columns - 1) return rest;
  const plain = progressLine(b, now, { columns: Infinity, style: PLAIN }).replace(/^\[[█░]*\]\s+/, '');
  return [...plain].slice(0, Math.max(1, columns - 1)).join('');
}

/** The log form, one line per report: `running  156/300 (52%)  succeeded 150  failed 6  cost $0.0123 / $5.00  ETA 1m 20s` */
export function plainProgressLine(b: BatchView, now: number): string {
  const f = figures(b);
  const parts = [
    b.status,
    `${f.done}/${f.total} (${f.percent}%)`,
    `succeeded ${b.counts.succeeded}`,
    `failed ${b.counts.failed}`,
    ...(b.counts.cancelled > 0 ? [`cancelled ${b.counts.cancelled}`] : []),
    `cost ${costText(b)}`,
  ];
  parts.push(timeText(b, now));
  return parts.join('  ');
}

/** What was last logged, to decide whether the next poll is worth a line. */
export interface Logged {
  at: number;
  status: string;
  done: number;
  failed: number;
}

export const LOG_MIN_GAP_MS = 5_000;
export const LOG_HEARTBEAT_MS = 60_000;

/**
 * Whether a non-terminal display prints this poll. Logs (CI, files) must not flood: a line when
 * the status changes or the batch ends, else when counts moved and ~5 s have passed, else a
 * heartbeat every minute so a quiet batch still shows it is being watched.
 */
export function shouldLog(prev: Logged | undefined, b: BatchView, now: number): boolean {
  if (!prev) return true;
  if (b.status !== prev.status || isTerminal(b.status)) return true;
  const since = now - prev.at;
  const f = figures(b);
  if ((f.done !== prev.done || b.counts.failed !== prev.failed) && since >= LOG_MIN_GAP_MS) return true;
  return since >= LOG_HEARTBEAT_MS;
}

export interface Renderer {
  update(b: BatchView): void;
  /** A message between updates (a lost connection); it must not garble the progress line. */
  note(text: string): void;
  /** The batch ended or the watch stopped: leave the cursor on a fresh line. */
  stop(): void;
}

interface Writable {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** One line redrawn in place (`\r` and erase-line): the terminal form. */
export class TtyRenderer implements Renderer {
  private last: BatchView | undefined;
  private drawn = false;

  constructor(
    private readonly stream: Writable,
    private readonly style: Style,
    private readonly now: () => number = Date.now,
  ) {}

  update(b: BatchView): void {
    this.last = b;
    this.draw();
  }

  note(text: string): void {
    this.clear();
    this.stream.write(`${text}\n`);
    if (this.last) this.draw();
  }

  stop(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }

  private draw(): void {
    if (!this.last) return;
    this.stream.write(`\r\x1b[2K${progressLine(this.last, this.now(), { style: this.style, columns: this.stream.columns || 80 })}`);
    this.drawn = true;
  }

  private clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }
}

/** Plain lines, throttled by `shouldLog`: the form for logs and pipes. */
export class LogRenderer implements Renderer {
  private logged: Logged | undefined;

  constructor(
    private readonly stream: Writable,
    private readonly now: () => number = Date.now,
  ) {}

  update(b: BatchView): void {
    const now = this.now();
    if (!shouldLog(this.logged, b, now)) return;
    const f = figures(b);
    this.logged = { at: now, status: b.status, done: f.done, failed: b.counts.failed };
    this.stream.write(`progress: ${plainProgressLine(b, now)}\n`);
  }

  note(text: string): void {
    this.stream.write(`${text}\n`);
  }

  stop(): void {}
}

/** Nothing at all: --json and --quiet. */
export class SilentRenderer implements Renderer {
  update(): void {}
  note(): void {}
  stop(): void {}
}
