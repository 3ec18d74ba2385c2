import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import type { Logger } from 'pino';

const WEBPACK_REPORT = /^webpack [\d.]+ compiled/m;
/** Said by the SDK at every start of a Worker that, by design, polls no workflows (the realtime queue) or Nexus: not news. */
const EXPECTED = new Set([
  'No Nexus services registered, not polling for Nexus tasks',
  'No workflows registered, not polling for workflow tasks',
]);

/** The SDK's Logger contract on top of pino (pino takes `(meta, message)`). */
export class PinoTemporalLogger implements TemporalLogger {
  constructor(private readonly pino: Logger) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    if (level === 'INFO') return this.info(message, meta);
    if (level === 'WARN') return this.warn(message, meta);
    const method = level.toLowerCase() as 'trace' | 'debug' | 'error';
    this.pino[method](meta ?? {}, message);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.pino.trace(meta ?? {}, message);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.pino.debug(meta ?? {}, message);
  }
  info(message: string, meta?: LogMetadata): void {
    // The bundler logs webpack's whole report at info; 'Workflow bundle created' follows it in one line.
    if (WEBPACK_REPORT.test(message) || EXPECTED.has(message)) this.pino.debug(meta ?? {}, message);
    else this.pino.info(meta ?? {}, message);
  }
  warn(message: string, meta?: LogMetadata): void {
    if (EXPECTED.has(message)) this.pino.debug(meta ?? {}, message);
    else this.pino.warn(meta ?? {}, message);
  }
  error(message: string, meta?: LogMetadata): void {
    this.pino.error(meta ?? {}, message);
  }
}
