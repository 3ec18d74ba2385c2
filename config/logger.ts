import { pino, stdSerializers, type Logger } from 'pino';
import { REDACT_PATHS, scrubSecrets } from './redact.js';

/**
 * One pino logger per process. Redaction is a second line of defence: keys are never put in
 * log fields on purpose, but an error object carrying request headers must not leak them, nor
 * an error message that quotes a key.
 */
export function createLogger(level: string, name: string): Logger {
  return pino({
    name,
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { err: scrubbedError, error: scrubbedError },
  });
}

function scrubbedError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const out = stdSerializers.err(err);
  out.message = scrubSecrets(out.message);
  if (out.stack) out.stack = scrubSecrets(out.stack);
  return out;
}
