import type { BatchEstimate, BatchList, BatchView, ValidationResponse } from '../client/index.js';
import { isTerminal } from '../client/index.js';
import { formatCount, formatDuration, formatRate, formatUsd, plural, styleStatus, PLAIN, type Style } from './format.js';
import { figures, liveEta } from './progress.js';
import { withProgram } from './program.js';

/** The human forms of the API's objects. Pure: a value and the time in, lines out. */

const row = (key: string, value: string) => `  ${key.padEnd(9)} ${value}`;

function when(iso: string, now: number): string {
  const ms = Date.parse(iso) - now;
  return `${iso} (${ms >= 0 ? `in ${formatDuration(ms)}` : `${formatDuration(-ms)} ago`})`;
}

/** How long the batch took, or has taken so far. */
export function elapsed(b: BatchView, now: number): number {
  return (b.completed_at ? Date.parse(b.completed_at) : now) - Date.parse(b.created_at);
}

export function batchSummary(b: BatchView, now: number, style: Style = PLAIN): string[] {
  const f = figures(b);
  const c = b.counts;
  const lines = [
    `${style.bold(b.id)}  ${styleStatus(b.status, style)}`,
    row('model', `${b.model} (${b.provider}${b.synthetic ? ', provider emulator: synthetic answers' : ''})`),
  ];
  const failed = c.failed > 0 ? style.red(`${formatCount(c.failed)} failed`) : '0 failed';
  lines.push(
    row(
      'items',
      `${formatCount(f.done)}/${formatCount(f.total)} done (${f.percent}%): ${style.green(`${formatCount(c.succeeded)} succeeded`)}, ${failed}` +
        `${c.cancelled > 0 ? `, ${formatCount(c.cancelled)} cancelled` : ''}${c.pending > 0 ? `, ${formatCount(c.pending)} pending` : ''}`,
    ),
  );
  if (b.chunks) {
    const ch = b.chunks;
    lines.push(
      row('chunks', `${ch.completed}/${ch.total} done${isTerminal(b.status) ? '' : `, ${ch.running} running, ${ch.waiting} waiting`}`),
    );
  }
  const cost = [`${formatUsd(b.cost.spent_usd)} spent`];
  if (b.cost.limit_usd !== null) cost.push(`limit ${formatUsd(b.cost.limit_usd)}`);
  if (!isTerminal(b.status)) {
    if (b.cost.reserved_usd > 0) cost.push(`${formatUsd(b.cost.reserved_usd)} reserved`);
    if (b.cost.estimated_total_usd !== null) cost.push(`~${formatUsd(b.cost.estimated_total_usd)} expected in all`);
  }
  lines.push(row('cost', cost.join(', ')));
  lines.push(row('tokens', `${formatCount(b.usage.input_tokens)} in, ${formatCount(b.usage.output_tokens)} out`));
  if (b.deadline) lines.push(row('deadline', when(b.deadline, now)));
  lines.push(row('created', when(b.created_at, now)));
  lines.push(row(isTerminal(b.status) ? 'took' : 'running', formatDuration(elapsed(b, now))));
  const eta = liveEta(b, now);
  if (eta !== null) lines.push(row('eta', when(eta, now)));
  if (b.status_reason) lines.push(row('waiting', b.status_reason));
  if (b.error) lines.push(row('error', style.red(b.error)));
  if (b.metadata && Object.keys(b.metadata).length > 0) lines.push(row('metadata', JSON.stringify(b.metadata)));
  return lines;
}

/** What to run next once a batch has ended (or while it runs). */
export function nextSteps(b: BatchView): string[] {
  if (!isTerminal(b.status)) return [withProgram(`follow it:  drover status ${b.id} --watch`)];
  const steps = [`results:    drover results ${b.id} --out results.csv`];
  if (b.counts.failed > 0) steps.push(`failures:   drover results ${b.id} --status failed`);
  return steps.map((s) => withProgram(s));
}

/** The short end-of-wait report: one line of status, counts, cost and duration. */
export function finalLine(b: BatchView, now: number, style: Style = PLAIN): string {
  const c = b.counts;
  const parts = [
    `${b.id} ${styleStatus(b.status, style)} in ${formatDuration(elapsed(b, now))}`,
    `${formatCount(c.succeeded)}/${formatCount(c.total)} succeeded`,
  ];
  if (c.failed > 0) parts.push(style.red(`${formatCount(c.failed)} failed`));
  if (c.cancelled > 0) parts.push(`${formatCount(c.cancelled)} cancelled`);
  parts.push(`cost ${formatUsd(b.cost.spent_usd)}${b.cost.limit_usd !== null ? ` (limit ${formatUsd(b.cost.limit_usd)})` : ''}`);
  return parts.join(', ');
}

export function estimateSummary(e: BatchEstimate): string[] {
  return [
    row('model', `${e.model} (${e.provider})`),
    row('items', `${formatCount(e.item_count)} in ${plural(e.chunks.count, 'chunk')}`),
    row('input', `${formatCount(e.input_tokens)} tokens (${e.input_token_method})`),
    row('output', `~${formatCount(e.output_tokens.typical)} tokens typical, at most ${formatCount(e.output_tokens.max)}`),
    row('cost', `${formatUsd(e.cost.low_usd)} low, ${formatUsd(e.cost.expected_usd)} expected, ${formatUsd(e.cost.high_usd)} high`),
    row(
      'pricing',
      `${formatRate(e.pricing.input_per_mtok)} in / ${formatRate(e.pricing.output_per_mtok)} out per million tokens` +
        `${e.pricing.batch_multiplier !== 1 ? `, x${e.pricing.batch_multiplier} on the batch API` : ''} (${e.pricing.source})`,
    ),
  ];
}

/** `drover list`: one batch per row, newest first. */
export function batchTable(page: BatchList, now: number, style: Style = PLAIN): string[] {
  if (page.data.length === 0) return ['no batches'];
  const rows = page.data.map((b) => {
    const f = figures(b);
    return [
      b.id,
      b.status,
      `${formatCount(f.done)}/${formatCount(f.total)}`,
      formatUsd(b.cost.spent_usd),
      `${formatDuration(now - Date.parse(b.created_at))} ago`,
      b.model,
    ];
  });
  const head = ['ID', 'STATUS', 'DONE', 'COST', 'CREATED', 'MODEL'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[], styled = false) =>
    r
      .map((cell, i) => {
        const padded = cell.padEnd(widths[i]!);
        return styled && i === 1 ? padded.replace(cell, styleStatus(cell, style)) : padded;
      })
      .join('  ')
      .trimEnd();
  const lines = [style.dim(fmt(head)), ...rows.map((r) => fmt(r, true))];
  if (page.next_cursor) lines.push(style.dim(`(more: --limit, or --cursor ${page.next_cursor})`));
  return lines;
}

/**
 * `drover validate`'s last line, by what was checked: `checked 6 lines: 1 valid, 5 with errors`.
 * Problems of the request itself (a flag, --spec) stop the check before the lines are read, and
 * the line says so. When the API listed only the first problems, the counts say "at least".
 */
export function checkedLine(v: ValidationResponse, lineCount: number): string {
  const lines = plural(lineCount, 'line');
  if (v.valid) return `checked ${lines}: ${formatCount(v.item_count ?? lineCount)} valid, ${plural(v.chunk_count ?? 0, 'chunk')} planned`;
  const badLines = new Set(v.issues.flatMap((i) => (i.line === undefined ? [] : [i.line]))).size;
  const requestProblems = v.issues.filter((i) => i.line === undefined).length;
  if (badLines === 0 && requestProblems > 0) {
    return `the request has ${plural(requestProblems, 'problem')} (flags or --spec), so the ${lines} were not checked yet`;
  }
  const listedAll = v.issue_count <= v.issues.length;
  const valid = Math.max(0, lineCount - badLines);
  return listedAll
    ? `checked ${lines}: ${formatCount(valid)} valid, ${formatCount(badLines)} with errors`
    : `checked ${lines}: at most ${formatCount(valid)} valid, at least ${formatCount(badLines)} with errors (${plural(v.issue_count, 'problem')} in all)`;
}
