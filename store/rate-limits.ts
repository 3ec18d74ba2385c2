import type { Queryable } from './db.js';

export interface BucketSpec {
  /** Requests per second the bucket refills, and how many it may hold. */
  requestRate: number;
  requestCapacity: number;
  tokenRate: number;
  tokenCapacity: number;
}

/**
 * Takes one request and `tokens` tokens from a shared bucket, or says how long to wait. One
 * statement under a row lock, so every worker of a deployment draws from the same allowance.
 */
export async function tryAcquire(
  db: Queryable,
  key: string,
  spec: BucketSpec,
  tokens: number,
): Promise<{ granted: boolean; waitMs: number }> {
  await db.query(
    `INSERT INTO rate_buckets (key, requests, tokens, updated_at) VALUES ($1, $2, $3, clock_timestamp()) ON CONFLICT (key) DO NOTHING`,
    [key, spec.requestCapacity, spec.tokenCapacity],
  );
  const { rows } = await db.query(
    `WITH cur AS (
       SELECT key,
         LEAST($2::float8, requests + EXTRACT(EPOCH FROM clock_timestamp() - updated_at) * $3::float8) AS req,
         LEAST($4::float8, tokens + EXTRACT(EPOCH FROM clock_timestamp() - updated_at) * $5::float8) AS tok
       FROM rate_buckets WHERE key = $1 FOR UPDATE
     ), upd AS (
       UPDATE rate_buckets r SET requests = cur.req - 1, tokens = cur.tok - $6::float8, updated_at = clock_timestamp()
       FROM cur WHERE r.key = cur.key AND cur.req >= 1 AND cur.tok >= $6::float8
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM upd)::int AS granted, cur.req, cur.tok FROM cur`,
    [key, spec.requestCapacity, spec.requestRate, spec.tokenCapacity, spec.tokenRate, tokens],
  );
  const r = rows[0];
  if (r.granted === 1) return { granted: true, waitMs: 0 };
  const reqWait = r.req >= 1 ? 0 : (1 - r.req) / spec.requestRate;
  const tokWait = r.tok >= tokens ? 0 : (tokens - r.tok) / spec.tokenRate;
  return { granted: false, waitMs: Math.max(5, Math.ceil(Math.max(reqWait, tokWait) * 1000)) };
}
