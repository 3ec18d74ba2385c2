import { z } from 'zod';
import { TemporalConnectionEnv } from './temporal-connection.js';

/** `"false"` must mean false: plain coercion would turn any non-empty string into true. */
export const BoolEnv = z.preprocess((v) => (typeof v === 'string' ? ['1', 'true', 'yes', 'on'].includes(v.toLowerCase()) : v), z.boolean());

/** Settings every Drover process shares. */
export const CommonEnv = z.object({
  /** PostgreSQL; without it `npm run dev` serves an embedded one. */
  DATABASE_URL: z.string().min(1),
  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  /** TLS, mTLS, API key and payload encryption: see config/temporal-connection.ts. */
  ...TemporalConnectionEnv,
  DROVER_TASK_QUEUE: z.string().default('drover'),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
});

/** Parses `env` or stops the process with every problem listed, before anything starts. */
export function parseEnv<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv = process.env): z.infer<T> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
  throw new Error(`invalid configuration:\n${lines.join('\n')}`);
}
