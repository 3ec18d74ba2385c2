import { z } from 'zod';
import { BoolEnv, CommonEnv } from '../config/env.js';

export const ApiEnv = CommonEnv.extend({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('127.0.0.1'),
  /**
   * An admin key of tenant `default` that needs no row in the store: the way in to create the
   * others. `npm run dev` makes one in .data/admin-key when it is not set.
   */
  DROVER_ADMIN_KEY: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.string().min(32, 'at least 32 characters (e.g. drv_ and 43 random base64url characters)').optional(),
  ),
  /**
   * Browser origins allowed to call the codec endpoint (/codec/decode): the Temporal UI's, comma
   * separated. `npm run dev` sets its UI's.
   */
  DROVER_CODEC_CORS_ORIGINS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((o) => o.trim().replace(/\/+$/, ''))
        .filter(Boolean),
    ),
  /** When set, GET /metrics answers only `Authorization: Bearer <token>`; open otherwise (docs/security.md, Metrics). */
  DROVER_METRICS_TOKEN: z.preprocess((v) => (v === '' ? undefined : v), z.string().min(16, 'at least 16 characters').optional()),
  /** How long an uploaded file lives before the sweep removes it (batches made from it keep their items). */
  DROVER_FILE_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .default(7 * 24 * 3600),
  /** Largest JSON body; bigger batches go through NDJSON, which streams. */
  DROVER_JSON_LIMIT: z.string().default('100mb'),
  /** Largest NDJSON body or uploaded file, in bytes after decompression. */
  DROVER_MAX_UPLOAD_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(2 * 1024 ** 3),
  /** Most items in one batch. */
  DROVER_MAX_ITEMS: z.coerce.number().int().positive().default(5_000_000),
  /** Largest item: the bytes of its rendered prompt. */
  DROVER_MAX_ITEM_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(32 * 1024 ** 2),
  /** Deepest nesting of objects and arrays in any JSON the API reads. */
  DROVER_MAX_JSON_DEPTH: z.coerce.number().int().min(2).max(1000).default(64),
  /** Event streams (GET /v1/batches/:id/events) one tenant may hold open on one API process. */
  DROVER_MAX_EVENT_STREAMS: z.coerce.number().int().positive().default(16),
  /** 32 bytes (64 hex digits or base64) sealing webhook secrets at rest; default: .data/secret.key (see store/secret-box.ts). */
  DROVER_SECRET_KEY: z.string().optional(),
  /** First and longest wait between polls of a provider batch. Real batches take minutes to hours. */
  DROVER_POLL_INITIAL_MS: z.coerce.number().int().positive().default(5_000),
  DROVER_POLL_MAX_MS: z.coerce.number().int().positive().default(60_000),
  DROVER_CHUNKS_PER_RUN: z.coerce.number().int().positive().optional(),
  /** How long a batch waits on silent chunks before it asks Temporal whether they still run. */
  DROVER_RECONCILE_MS: z.coerce.number().int().positive().optional(),
  /** How long the API caches what the workers registered they serve (checked at every submit). */
  DROVER_WORKER_OFFERS_CACHE_MS: z.coerce.number().int().min(0).default(5_000),
  /** JSON of prices for models the price data lacks: {"openai/my-model": {"input_per_mtok", "output_per_mtok"}}. */
  DROVER_PRICES_FILE: z.string().optional(),
  /** The result cache setting of a batch that does not give `cache`: use, refresh or off. */
  DROVER_RESULT_CACHE: z.enum(['use', 'refresh', 'off']).default('use'),
  /** Webhooks may be plain http and reach loopback and private networks: for a stack whose receivers are inside. */
  DROVER_WEBHOOK_ALLOW_PRIVATE: BoolEnv.default(false),
});
export type ApiEnv = z.infer<typeof ApiEnv>;
