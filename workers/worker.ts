import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import { createActivities } from '../activities/index.js';
import type { DroverMetrics } from '../metrics/drover-metrics.js';
import { instrumentProviders } from '../metrics/instrument-providers.js';
import { clientConnectionOptions, droverDataConverter, temporalConnectionOptions } from '../config/temporal-connection.js';
import { createProviders, describeProviders, offersOf } from './providers.js';
import type { Db } from '../store/db.js';
import type { WorkerEnv } from './config.js';
import { realtimeTaskQueue } from '../workflows/task-queues.js';
import { sanitizeActivityFailures } from './failure-sanitizer.js';
import { startHealthFile } from './health.js';
import { ensureOrphanSchedule } from './orphan-schedule.js';
import { startRegistration } from './registration.js';
import { ensureSearchAttributes } from './search-attributes.js';
import { traceProviders } from '../tracing/providers.js';
import { tracingFromEnv } from '../tracing/tracing.js';
import { tracingActivityInterceptors, WORKFLOW_TRACING_MODULE, workflowSpanSinks } from '../tracing/worker.js';

// Sources run under tsx (.ts) in development and compiled (.js) in production images.
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
export const WORKFLOWS_PATH = fileURLToPath(new URL(`../workflows/index${ext}`, import.meta.url));

/** The worker's own credentials, scrubbed by value from every failure its activities throw. */
function secretsOf(env: WorkerEnv): string[] {
  const values = [env.OPENAI_API_KEY, env.ANTHROPIC_API_KEY, env.GEMINI_API_KEY, env.OPENAI_COMPATIBLE_API_KEY, env.TEMPORAL_API_KEY];
  return values.filter((v): v is string => Boolean(v));
}

export interface DroverWorker {
  /** The main queue's Worker (the realtime one when DROVER_WORKER_ROLE=realtime). */
  worker: Worker;
  /** Every Worker of this process: the main queue's and the realtime queue's, by role. */
  workers: Worker[];
  /** Shuts down every Worker; run() resolves once all have drained. */
  shutdown(): void;
  run(): Promise<void>;
}

/**
 * Builds the worker and everything it depends on; the one place provider clients are made. With
 * `metrics`, provider calls are timed and result writes counted into it.
 */
export async function createDroverWorker(
  env: WorkerEnv,
  db: Db,
  logger: Logger,
  opts: { metrics?: DroverMetrics } = {},
): Promise<DroverWorker> {
  // Codecs run in the worker, outside the workflow sandbox; activities' Context.current().client uses this converter too.
  const dataConverter = droverDataConverter(env, logger);
  const admin = await Connection.connect(clientConnectionOptions(env));
  try {
    const added = await ensureSearchAttributes(admin, env.TEMPORAL_NAMESPACE);
    if (added.length) logger.info({ added }, 'registered search attributes');
    if (env.DROVER_ORPHAN_RECONCILE_EVERY !== 'off') {
      const client = new Client({ connection: admin, namespace: env.TEMPORAL_NAMESPACE, dataConverter });
      const every = env.DROVER_ORPHAN_RECONCILE_EVERY;
      logger.info(
        { every, schedule: await ensureOrphanSchedule(client, { taskQueue: env.DROVER_TASK_QUEUE, every }) },
        'orphan reconciler scheduled',
      );
    }
  } finally {
    await admin.close();
  }

  // Off (and nothing created) unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
  const tracing = tracingFromEnv('drover-worker');
  const created = tracing ? traceProviders(createProviders(env)) : createProviders(env);
  const providers = opts.metrics ? instrumentProviders(created, opts.metrics) : created;
  logger.info({ providers: describeProviders(providers) }, 'providers configured');
  const connection = await NativeConnection.connect(temporalConnectionOptions(env));
  // One set of activities and one connection for every queue this process polls.
  const common = {
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    dataConverter,
    // Activity failures reach histories (and logs) in plain text: no prompt text or key in them.
    // The tracing interceptor sits outside the sanitizer, so spans only see scrubbed failures.
    interceptors: { activity: [...tracingActivityInterceptors(tracing), sanitizeActivityFailures(secretsOf(env))] },
    activities: createActivities({
      db,
      providers,
      rateLimits: env.DROVER_RATE_LIMITS,
      realtimeConcurrency: env.DROVER_REALTIME_CONCURRENCY,
      maxTransfers: env.DROVER_MAX_CONCURRENT_TRANSFERS,
      webhooks: { allowPrivate: env.DROVER_WEBHOOK_ALLOW_PRIVATE },
      resultCacheTtlMs: env.DROVER_RESULT_CACHE_TTL_DAYS * 24 * 3600_000,
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
    }),
    shutdownGraceTime: '10 seconds',
    // Heartbeats carry cancels to running activities: throttled to 2 s, a cancel reaches a submit or
    // a realtime chunk within seconds rather than the default 0.8 × heartbeat timeout (16 s).
    maxHeartbeatThrottleInterval: '2 seconds',
    ...(env.DROVER_DEPLOYMENT_NAME && env.DROVER_BUILD_ID
      ? {
          workerDeploymentOptions: {
            version: { deploymentName: env.DROVER_DEPLOYMENT_NAME, buildId: env.DROVER_BUILD_ID },
            useWorkerVersioning: true as const,
            defaultVersioningBehavior: env.DROVER_VERSIONING_BEHAVIOR === 'pinned' ? ('PINNED' as const) : ('AUTO_UPGRADE' as const),
          },
        }
      : {}),
  };
  const workers: Worker[] = [];
  if (env.DROVER_WORKER_ROLE !== 'realtime') {
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: env.DROVER_TASK_QUEUE,
        ...(env.DROVER_WORKFLOW_BUNDLE ? { workflowBundle: { codePath: env.DROVER_WORKFLOW_BUNDLE } } : { workflowsPath: WORKFLOWS_PATH }),
        // A pre-built bundle carries the workflow interceptors already (scripts/build-workflow-bundle.ts).
        ...(tracing && !env.DROVER_WORKFLOW_BUNDLE
          ? { interceptors: { ...common.interceptors, workflowModules: [WORKFLOW_TRACING_MODULE] } }
          : {}),
        sinks: workflowSpanSinks(tracing),
        maxConcurrentActivityTaskExecutions: env.DROVER_MAX_CONCURRENT_ACTIVITIES,
        maxCachedWorkflows: env.DROVER_MAX_CACHED_WORKFLOWS,
      }),
    );
  }
  if (env.DROVER_WORKER_ROLE !== 'main') {
    // Realtime attempts hold a slot for minutes to hours: their own queue and slots, so they never
    // take the slots that polls, submits and collects need (see workflows/task-queues.ts).
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: realtimeTaskQueue(env.DROVER_TASK_QUEUE),
        maxConcurrentActivityTaskExecutions: env.DROVER_MAX_CONCURRENT_REALTIME_CHUNKS,
      }),
    );
  }
  const worker = workers[0]!;
  const registration = await startRegistration(
    db,
    { namespace: env.TEMPORAL_NAMESPACE, taskQueue: env.DROVER_TASK_QUEUE, workerId: worker.options.identity },
    offersOf(providers),
    logger,
  );

  const shutdown = (): void => {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
  };
  return {
    worker,
    workers,
    shutdown,
    async run() {
      const health = env.DROVER_HEALTH_FILE
        ? startHealthFile({ file: env.DROVER_HEALTH_FILE, everyMs: env.DROVER_HEALTH_EVERY_MS, workers, connection, logger })
        : undefined;
      try {
        // One Worker stopping (a shutdown, or a fatal error) stops the others, so the process exits.
        await Promise.all(workers.map((w) => w.run().finally(shutdown)));
      } finally {
        health?.stop();
        await tracing?.flush().catch(() => {});
        await registration.stop();
        await connection.close();
      }
    },
  };
}
