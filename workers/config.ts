import { z } from 'zod';
import { CommonEnv } from '../config/env.js';

export const WorkerEnv = CommonEnv.extend({
  /** Provider keys live only in the worker's environment, never in workflow inputs or logs. */
  OPENAI_API_KEY: z.string().optional(),
  // Compose passes unset variables as empty strings.
  OPENAI_BASE_URL: z.preprocess((v) => (v === '' ? undefined : v), z.url().optional()),
  /** A pre-built bundle (npm run build:workflows); without it the worker bundles at start. */
  DROVER_WORKFLOW_BUNDLE: z.string().optional(),
  DROVER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().positive().default(20),
  /** Workflows kept in memory between tasks. The SDK sizes this from total RAM; each costs MBs. */
  DROVER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).default(200),
  /** Touched every 10 s, for container health checks. */
  DROVER_HEALTH_FILE: z.string().optional(),
}).superRefine((env, ctx) => {
  if (!env.OPENAI_API_KEY && !env.OPENAI_BASE_URL) {
    ctx.addIssue({ code: 'custom', path: ['OPENAI_API_KEY'], message: 'set OPENAI_API_KEY, or OPENAI_BASE_URL to the provider emulator' });
  }
});
export type WorkerEnv = z.infer<typeof WorkerEnv>;
