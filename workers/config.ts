import { z } from 'zod';
import { DEFAULT_MAX_TRANSFERS } from '../activities/chunks.js';
import { RateLimits } from '../activities/rate-limiter.js';
import { BoolEnv, CommonEnv } from '../config/env.js';

// Compose passes unset variables as empty strings: treat them as unset.
const OptionalUrl = z.preprocess((v) => (v === '' ? undefined : v), z.url().optional());
const OptionalSecret = z.preprocess((v) => (v === '' ? undefined : v), z.string().optional());

const JsonRateLimits = z.preprocess((v) => {
  if (typeof v !== 'string' || v === '') return {};
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}, RateLimits);

export const WorkerEnv = CommonEnv.extend({
  /** Provider keys live only in the worker's environment, never in workflow inputs or logs. */
  OPENAI_API_KEY: OptionalSecret,
  OPENAI_BASE_URL: OptionalUrl,
  ANTHROPIC_API_KEY: OptionalSecret,
  ANTHROPIC_BASE_URL: OptionalUrl,
  GEMINI_API_KEY: OptionalSecret,
  GEMINI_BASE_URL: OptionalUrl,
  /** Any OpenAI-compatible server (vLLM, Ollama, llama.cpp, LiteLLM): models `openai_compatible/<name>`. */
  OPENAI_COMPATIBLE_BASE_URL: OptionalUrl,
  OPENAI_COMPATIBLE_API_KEY: OptionalSecret,
  /** Shared requests/tokens per minute for realtime calls, e.g. {"openai/gpt-4.1-mini": {"rpm": 500, "tpm": 200000}}. */
  DROVER_RATE_LIMITS: JsonRateLimits,
  /** Realtime calls in flight per running chunk. */
  DROVER_REALTIME_CONCURRENCY: z.coerce.number().int().positive().default(16),
  /** How long an answer stays in a tenant's result cache (a batch's `cache: "use"` answers items from it). */
  DROVER_RESULT_CACHE_TTL_DAYS: z.coerce.number().positive().default(30),
  /** A pre-built bundle (npm run build:workflows); without it the worker bundles at start. */
  DROVER_WORKFLOW_BUNDLE: z.string().optional(),
  /** Activity slots on the main task queue: submits, polls, collects, store and webhook calls. */
  DROVER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().positive().default(20),
  /**
   * Chunk submits and collects this worker runs at once (the rest wait, heartbeating, inside their
   * activity slot). Each holds one chunk's items or results in memory, so this bounds the worker's
   * memory whatever `max_parallel_chunks` its batches ask for.
   */
  DROVER_MAX_CONCURRENT_TRANSFERS: z.coerce.number().int().positive().default(DEFAULT_MAX_TRANSFERS),
  /** Realtime chunk attempts this worker runs at once, on `<DROVER_TASK_QUEUE>-realtime` (each makes DROVER_REALTIME_CONCURRENCY calls). */
  DROVER_MAX_CONCURRENT_REALTIME_CHUNKS: z.coerce.number().int().positive().default(8),
  /**
   * Which task queues this process polls: `all` (both), `main` (workflows and every activity
   * but realtime attempts) or `realtime` (only realtime attempts), to scale the two apart.
   */
  DROVER_WORKER_ROLE: z.enum(['all', 'main', 'realtime']).default('all'),
  /** Workflows kept in memory between tasks. The SDK sizes this from total RAM; each costs MBs. */
  DROVER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).default(200),
  /** How often the orphan reconciler's Temporal Schedule runs (`15m`, `1h`), or `off` to leave the schedule as it is. */
  DROVER_ORPHAN_RECONCILE_EVERY: z
    .string()
    .default('15m')
    .refine(
      (v) => v === 'off' || /^\d+(\.\d+)?\s*(ms|s|m|h|d|seconds?|minutes?|hours?|days?)$/.test(v),
      'a duration such as 15m or 1h, or off',
    ),
  /** Serve Prometheus metrics (GET /metrics) on this port; none when unset. */
  DROVER_METRICS_PORT: z.preprocess((v) => (v === '' ? undefined : v), z.coerce.number().int().min(0).max(65535).optional()),
  /** The address the metrics port listens on: 0.0.0.0 for a scraper on another host or container. */
  DROVER_METRICS_HOST: z.string().default('127.0.0.1'),
  /** When set, /metrics answers only `Authorization: Bearer <token>` (docs/security.md, Metrics). */
  DROVER_METRICS_TOKEN: OptionalSecret,
  /**
   * Where the Temporal SDK's own Prometheus exporter listens (`host:port`); its metrics are also
   * appended to /metrics. Default with DROVER_METRICS_PORT: a free port on 127.0.0.1.
   */
  DROVER_TEMPORAL_METRICS_ADDRESS: OptionalSecret,
  /** Touched every DROVER_HEALTH_EVERY_MS while the worker polls and Temporal answers, for container health checks. */
  DROVER_HEALTH_FILE: z.string().optional(),
  DROVER_HEALTH_EVERY_MS: z.coerce.number().int().positive().default(10_000),
  /** Webhooks may be plain http and reach loopback and private networks (checked after resolving): for receivers inside. */
  DROVER_WEBHOOK_ALLOW_PRIVATE: BoolEnv.default(false),
  /**
   * Worker Deployment Versioning: set both and this worker runs as version `DROVER_BUILD_ID` of
   * deployment `DROVER_DEPLOYMENT_NAME`; workflows go to it once it is made current (README, Production).
   */
  DROVER_DEPLOYMENT_NAME: OptionalSecret,
  DROVER_BUILD_ID: OptionalSecret,
  /**
   * Batches and chunks run for hours or days, so by default they move to a new current version
   * at their next task (their changes go behind patched()); `pinned` keeps each on the version it started on.
   */
  DROVER_VERSIONING_BEHAVIOR: z.enum(['auto_upgrade', 'pinned']).default('auto_upgrade'),
}).superRefine((env, ctx) => {
  if (Boolean(env.DROVER_DEPLOYMENT_NAME) !== Boolean(env.DROVER_BUILD_ID)) {
    ctx.addIssue({
      code: 'custom',
      path: [env.DROVER_DEPLOYMENT_NAME ? 'DROVER_BUILD_ID' : 'DROVER_DEPLOYMENT_NAME'],
      message: 'Worker Deployment Versioning needs both DROVER_DEPLOYMENT_NAME and DROVER_BUILD_ID (or neither)',
    });
  }
  const configured = [
    env.OPENAI_API_KEY ?? env.OPENAI_BASE_URL,
    env.ANTHROPIC_API_KEY ?? env.ANTHROPIC_BASE_URL,
    env.GEMINI_API_KEY ?? env.GEMINI_BASE_URL,
    env.OPENAI_COMPATIBLE_BASE_URL,
  ];
  if (!configured.some(Boolean)) {
    ctx.addIssue({
      code: 'custom',
      path: ['OPENAI_API_KEY'],
      message:
        'configure at least one provider: OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, OPENAI_COMPATIBLE_BASE_URL, or a *_BASE_URL pointing at the provider emulator',
    });
  }
});
export type WorkerEnv = z.infer<typeof WorkerEnv>;
