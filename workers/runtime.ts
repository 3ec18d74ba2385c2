import { DefaultLogger, makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import type { Logger } from 'pino';
import { PinoTemporalLogger } from './logger.js';

/**
 * Installs the Temporal runtime once per process, before any worker or native connection: SDK
 * and core logs go through Drover's pino logger (core at WARN and above), or nowhere when silent.
 * With `metricsAddress` (`host:port`) the SDK serves its own Prometheus metrics there, named
 * `temporal_…` (workflow and activity task latencies, poll results, sticky cache, slots).
 */
export function installRuntime(logger: Logger, level: string = logger.level, opts: { metricsAddress?: string } = {}): void {
  Runtime.install({
    logger: level === 'silent' ? new DefaultLogger('ERROR', () => {}) : new PinoTemporalLogger(logger),
    telemetryOptions: {
      logging: { forward: {}, filter: makeTelemetryFilterString({ core: 'WARN' }) },
      ...(opts.metricsAddress ? { metrics: { prometheus: { bindAddress: opts.metricsAddress, useSecondsForDurations: true } } } : {}),
    },
  });
}
