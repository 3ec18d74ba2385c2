import { pino, stdSerializers, type Logger } from 'pino';
import { REDACT_PATHS, scrubSecrets } from './redact.js';

export type LogFormat = 'pretty' | 'json';

/** `LOG_FORMAT` when set; else readable lines for a person at a terminal, JSON for everything else (files, pipes, collectors). */
export function logFormat(env: NodeJS.ProcessEnv = process.env, out: { isTTY?: boolean } = process.stdout): LogFormat {
  if (env.LOG_FORMAT === 'pretty' || env.LOG_FORMAT === 'json') return env.LOG_FORMAT;
  return out.isTTY ? 'pretty' : 'json';
}

/**
 * One pino logger per process. Redaction is a second line of defence: keys are never put in
 * log fields on purpose, but an error object carrying request headers must not leak them, nor
 * an error message that quotes a key. Without `name`, give each part its own with
 * `child({ name })`: pino writes a child's bindings after its parent's, so a name on both would
 * be one JSON object with two "name" keys.
 */
export function createLogger(level: string, name?: string, format: LogFormat = logFormat()): Logger {
  const options = {
    ...(name ? { name } : {}),
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { err: scrubbedError, error: scrubbedError },
  };
  return format === 'pretty' ? pino(options, prettyStream(process.stdout)) : pino(options);
}

function scrubbedError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const out = stdSerializers.err(err);
  out.message = scrubSecrets(out.message);
  if (out.stack) out.stack = scrubSecrets(out.stack);
  return out;
}

const LEVELS: Record<number, [string, string]> = {
  10: ['TRACE', '90'],
  20: ['DEBUG', '90'],
  30: ['INFO ', '32'],
  40: ['WARN ', '33'],
  50: ['ERROR', '31'],
  60: ['FATAL', '31'],
};
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg']);

/**
 * pino's JSON, as one line a person reads: `12:00:01 INFO  drover-dev  message  key=value …`,
 * an error's stack indented below. Synchronous, in this thread, so nothing is lost at exit.
 */
export function prettyStream(out: NodeJS.WritableStream & { isTTY?: boolean }, color = Boolean(out.isTTY) && !process.env.NO_COLOR) {
  const paint = (code: string, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  return {
    write(line: string): void {
      out.write(`${formatLine(line, paint)}\n`);
    },
  };
}

export function formatLine(line: string, paint: (code: string, text: string) => string = (_c, t) => t): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.trimEnd();
  }
  const [label, code] = LEVELS[entry.level as number] ?? [String(entry.level), '0'];
  const time = new Date(entry.time as number).toTimeString().slice(0, 8);
  const fields: string[] = [];
  let stack = '';
  for (const [key, value] of Object.entries(entry)) {
    if (HIDDEN.has(key)) continue;
    if ((key === 'err' || key === 'error') && value && typeof value === 'object' && 'message' in value) {
      const e = value as { message: string; stack?: string };
      fields.push(`${key}=${JSON.stringify(e.message)}`);
      if (e.stack && (entry.level as number) >= 50) stack = `\n    ${e.stack.split('\n').join('\n    ')}`;
      continue;
    }
    const text = typeof value === 'string' && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
    fields.push(`${key}=${text}`);
  }
  const name = typeof entry.name === 'string' ? `${paint('36', entry.name)}  ` : '';
  const rest = fields.length ? `  ${paint('90', fields.join(' '))}` : '';
  return `${paint('90', time)} ${paint(code, label)} ${name}${String(entry.msg ?? '')}${rest}${stack}`;
}
