/** Counters tests assert on. Route keys are patterns (`GET /v1/batches/:id`), never ids. */
export interface EmulatorStats {
  /** Requests received per route pattern, including ones answered with an error or an injected fault. */
  requests: Record<string, number>;
  /** Successful `POST /v1/files` uploads (result files the emulator writes are not counted). */
  files_uploaded: number;
  /** Batches accepted by `POST /v1/batches`, including ones a fault later fails or expires. */
  batches_created: number;
  /** Accepted batches per value of `metadata.drover_key`; batches without that key are not counted. */
  batches_by_metadata: Record<string, number>;
  /** Cancels that moved a batch to `cancelling` (repeat cancels of the same batch are not counted). */
  batch_cancels: number;
  /** Non-blank JSONL lines in the input files of accepted batches. */
  lines_received: number;
  /** `POST /v1/chat/completions` requests answered with a completion. */
  chat_completions: number;
  faults_injected: {
    http: number;
    line_errors: number;
    malformed_json: number;
    batch_fail: number;
    batch_expire: number;
  };
}

export function emptyStats(): EmulatorStats {
  return {
    requests: {},
    files_uploaded: 0,
    batches_created: 0,
    batches_by_metadata: {},
    batch_cancels: 0,
    lines_received: 0,
    chat_completions: 0,
    faults_injected: { http: 0, line_errors: 0, malformed_json: 0, batch_fail: 0, batch_expire: 0 },
  };
}
