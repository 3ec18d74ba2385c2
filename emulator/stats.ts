/**
 * Counters tests assert on. Route keys are patterns (`GET /v1/batches/:id`), never ids. The
 * top-level batch, file and chat counters are OpenAI's (their names predate the other providers);
 * Anthropic and Gemini have their own sections.
 */
export interface EmulatorStats {
  /** Requests received per route pattern, including ones answered with an error or an injected fault. */
  requests: Record<string, number>;
  /** Successful `POST /v1/files` uploads (result files the emulator writes are not counted). */
  files_uploaded: number;
  /** Batches accepted by `POST /v1/batches`, including ones a fault later fails or expires. */
  batches_created: number;
  /** Accepted OpenAI batches per value of `metadata.drover_key`; batches without that key are not counted. */
  batches_by_metadata: Record<string, number>;
  /**
   * Accepted batches of every provider per `x-drover-key` request header, and for OpenAI also per
   * `metadata.drover_key` (a batch carrying the same value in both is counted once).
   */
  batches_by_key: Record<string, number>;
  /** Cancels that moved a batch to `cancelling` (repeat cancels of the same batch are not counted). */
  batch_cancels: number;
  /** Non-blank JSONL lines in the input files of accepted batches. */
  lines_received: number;
  /** `POST /v1/chat/completions` requests answered with a completion. */
  chat_completions: number;
  /** Realtime requests of every provider that passed the rate limiter (chat completions, messages, generateContent). */
  realtime_accepted: number;
  anthropic: {
    /** Batches accepted by `POST /v1/messages/batches`. */
    batches_created: number;
    /** Cancels that moved a batch to `canceling`. */
    batch_cancels: number;
    /** Requests in accepted batches. */
    requests_received: number;
    /** `POST /v1/messages` requests answered with a message. */
    messages: number;
  };
  gemini: {
    /** Batches accepted by `models/*:batchGenerateContent`. */
    batches_created: number;
    /** Cancels of running or pending batches. */
    batch_cancels: number;
    /** Requests in accepted batches (inline requests or input file lines). */
    requests_received: number;
    /** `models/*:generateContent` requests answered with a response. */
    generate_content: number;
    /** Finalized resumable uploads (result files the emulator writes are not counted). */
    files_uploaded: number;
  };
  /** Prompt-cache lookups of prefixes long enough to cache (prompt-cache.ts): reads of a prefix seen before, and first writes. */
  prompt_cache: { reads: number; writes: number };
  faults_injected: {
    http: number;
    line_errors: number;
    malformed_json: number;
    batch_fail: number;
    batch_expire: number;
    /** Realtime requests refused with 429 by `rate_limit`. */
    rate_limited: number;
  };
}

export function emptyStats(): EmulatorStats {
  return {
    requests: {},
    files_uploaded: 0,
    batches_created: 0,
    batches_by_metadata: {},
    batches_by_key: {},
    batch_cancels: 0,
    lines_received: 0,
    chat_completions: 0,
    realtime_accepted: 0,
    anthropic: { batches_created: 0, batch_cancels: 0, requests_received: 0, messages: 0 },
    gemini: { batches_created: 0, batch_cancels: 0, requests_received: 0, generate_content: 0, files_uploaded: 0 },
    prompt_cache: { reads: 0, writes: 0 },
    faults_injected: { http: 0, line_errors: 0, malformed_json: 0, batch_fail: 0, batch_expire: 0, rate_limited: 0 },
  };
}

/** Counts an accepted batch under each distinct Drover key it carries. */
export function countBatchKeys(stats: EmulatorStats, ...keys: Array<string | undefined>): void {
  for (const key of new Set(keys)) {
    if (key !== undefined && key !== '') stats.batches_by_key[key] = (stats.batches_by_key[key] ?? 0) + 1;
  }
}
