import { writeFile } from 'node:fs/promises';
import type { NativeConnection, Worker } from '@temporalio/worker';
import type { Logger } from 'pino';

export interface HealthFile {
  stop(): void;
}

/** How long the server gets to answer the health call before a beat is skipped. */
const ANSWER_WITHIN_MS = 5_000;

/**
 * Touches `file` every `everyMs` while the worker can do its job: each Worker is RUNNING with no
 * failed poller, and the Temporal server its polls go to answers a cheap call. A worker cut off
 * from Temporal, or one whose Worker stopped, stops touching it, so a container or pod probe that
 * checks the file's age sees it unhealthy and restarts it.
 */
export function startHealthFile(opts: {
  file: string;
  everyMs: number;
  workers: readonly Worker[];
  connection: NativeConnection;
  logger: Logger;
}): HealthFile {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let healthy: boolean | undefined;

  const beat = async (): Promise<void> => {
    const reason = await unhealthyReason(opts.workers, opts.connection);
    if (reason === undefined) await writeFile(opts.file, new Date().toISOString());
    if ((reason === undefined) !== healthy) {
      healthy = reason === undefined;
      if (healthy) opts.logger.info('worker healthy: polling and the Temporal server answers');
      else opts.logger.warn({ reason }, 'worker unhealthy: the health file is no longer touched');
    }
  };
  const loop = (): void => {
    void beat()
      .catch((err: unknown) => opts.logger.warn({ err }, 'could not write the health file'))
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, opts.everyMs);
      });
  };
  loop();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** Why the worker is not healthy now, or undefined when it is. */
export async function unhealthyReason(workers: readonly Worker[], connection: NativeConnection): Promise<string | undefined> {
  for (const w of workers) {
    const state = w.getState();
    if (state !== 'RUNNING') return `worker on ${w.options.taskQueue} is ${state}`;
    const status = w.getStatus();
    if (status.workflowPollerState === 'FAILED' || status.activityPollerState === 'FAILED')
      return `a poller on ${w.options.taskQueue} failed`;
  }
  try {
    await connection.withDeadline(Date.now() + ANSWER_WITHIN_MS, () => connection.workflowService.getSystemInfo({}));
    return undefined;
  } catch (err) {
    return `the Temporal server does not answer: ${err instanceof Error ? err.message.slice(0, 200) : 'unknown error'}`;
  }
}
