import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import type { Logger } from 'pino';

/** The SDK's Logger contract on top of pino (pino takes `(meta, message)`). */
export class PinoTemporalLogger implements TemporalLogger {
  constructor(private readonly pino: Logger) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    const method = level.toLowerCase() as 'trace' | 'debug' | 'info' | 'warn' | 'error';
    this.pino[method](meta ?? {}, message);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.pino.trace(meta ?? {}, message);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.pino.debug(meta ?? {}, message);
  }
  info(message: string, meta?: LogMetadata): void {
    this.pino.info(meta ?? {}, message);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.pino.warn(meta ?? {}, message);
  }
  error(message: string, meta?: LogMetadata): void {
    this.pino.error(meta ?? {}, message);
  }
}
