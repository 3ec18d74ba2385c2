/**
 * Validation of a batch input JSONL file, the checks OpenAI runs while a batch is `validating`.
 * Pure, so the line-number bookkeeping is tested without a server.
 */
import type { BatchError } from 'openai/resources/batches';

export const MAX_BATCH_LINES = 50_000;
/** Enough to show every mistake in a small file without building a huge error list for a big one. */
const MAX_REPORTED_ERRORS = 100;

export interface BatchInputLine {
  custom_id: string;
  body: unknown;
  /** 1-based position among the requests (blank lines skipped); what `line_errors.every` counts. */
  position: number;
}

export type BatchInput =
  { ok: true; lines: BatchInputLine[]; model: string | null } | { ok: false; errors: Array<Required<BatchError>>; lineCount: number };

/** Number of non-blank lines; this is what `stats.lines_received` counts, valid or not. */
export function countLines(text: string): number {
  let n = 0;
  for (const line of text.split('\n')) if (line.trim() !== '') n++;
  return n;
}

export function parseBatchInput(text: string, endpoint: string): BatchInput {
  const raw = text.split('\n');
  const lineCount = countLines(text);
  if (lineCount === 0) {
    return { ok: false, lineCount, errors: [{ code: 'empty_file', message: 'The batch input file is empty.', param: null, line: null }] };
  }
  if (lineCount > MAX_BATCH_LINES) {
    return {
      ok: false,
      lineCount,
      errors: [
        {
          code: 'too_many_requests',
          message: `The batch input file has ${lineCount} requests, more than the maximum of ${MAX_BATCH_LINES} per batch.`,
          param: null,
          line: null,
        },
      ],
    };
  }

  const errors: Array<Required<BatchError>> = [];
  const lines: BatchInputLine[] = [];
  const seen = new Set<string>();
  let model: string | null = null;
  const fail = (line: number, code: string, message: string, param: string | null): void => {
    if (errors.length < MAX_REPORTED_ERRORS) errors.push({ code, message, param, line });
  };

  for (let i = 0; i < raw.length; i++) {
    const text = (raw[i] as string).trim();
    if (text === '') continue;
    const lineNo = i + 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      fail(lineNo, 'invalid_json_line', 'This line is not parseable as valid JSON.', null);
      continue;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      fail(lineNo, 'invalid_json_line', 'This line is not a JSON object.', null);
      continue;
    }
    const req = parsed as Record<string, unknown>;
    if (typeof req.custom_id !== 'string' || req.custom_id === '') {
      fail(lineNo, 'missing_required_parameter', "Missing required parameter: 'custom_id'.", 'custom_id');
      continue;
    }
    if (req.method !== 'POST') {
      fail(lineNo, 'invalid_method', "The 'method' of every request must be 'POST'.", 'method');
      continue;
    }
    if (req.url !== endpoint) {
      fail(lineNo, 'invalid_url', `The 'url' of every request must match the batch endpoint '${endpoint}'.`, 'url');
      continue;
    }
    if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) {
      fail(lineNo, 'missing_required_parameter', "Missing required parameter: 'body'.", 'body');
      continue;
    }
    if (seen.has(req.custom_id)) {
      fail(
        lineNo,
        'duplicate_custom_id',
        'The custom_id for this request is a duplicate of another request. The custom_id parameter must be unique for each request in a batch.',
        'custom_id',
      );
      continue;
    }
    seen.add(req.custom_id);
    const bodyModel = (req.body as Record<string, unknown>).model;
    if (model === null && typeof bodyModel === 'string') model = bodyModel;
    lines.push({ custom_id: req.custom_id, body: req.body, position: lines.length + 1 });
  }
  return errors.length > 0 ? { ok: false, errors, lineCount } : { ok: true, lines, model };
}
