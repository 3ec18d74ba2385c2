import { pino, type Logger } from 'pino';

/**
 * One pino logger per process. Redaction is a second line of defence: keys are never put in
 * log fields on purpose, but an error object carrying request headers must not leak them.
 */
export function createLogger(level: string, name: string): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: ['*.apiKey', '*.api_key', '*.authorization', '*.Authorization', 'headers.authorization', '*.headers.authorization'],
      censor: '[redacted]',
    },
  });
}
