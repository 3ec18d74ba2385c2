/** A contiguous range of item positions `[seq_start, seq_end)` sent to the provider as one batch. */
export interface ChunkRange {
  idx: number;
  seq_start: number;
  seq_end: number;
  item_count: number;
  bytes: number;
  /** Sum of the items' prompt-token estimates, for cost estimates and budget reservations. */
  est_input_tokens: number;
}

export interface ChunkLimits {
  /** The user's `chunk_size`, already capped at the provider's request limit. */
  maxItems: number;
  /** The provider's input file limit, less a margin for the line envelope we estimate. */
  maxBytes: number;
  /** Bytes each line adds beyond its messages: custom_id, model, response_format, JSON framing. */
  lineOverhead: number;
}

/**
 * Greedy split by count and by bytes, fed in `seq` order so it can stream over a million rows.
 * Splitting by count alone is how peers end up with 500 MB files the provider rejects.
 */
export class ChunkPlanner {
  private readonly chunks: ChunkRange[] = [];
  private current: ChunkRange | null = null;

  constructor(private readonly limits: ChunkLimits) {}

  add(seq: number, requestBytes: number, estInputTokens = 0): void {
    const bytes = requestBytes + this.limits.lineOverhead;
    if (bytes > this.limits.maxBytes) {
      throw new Error(`item at position ${seq} is ${bytes} bytes, above the provider's ${this.limits.maxBytes}-byte batch file limit`);
    }
    const c = this.current;
    if (c && c.item_count < this.limits.maxItems && c.bytes + bytes <= this.limits.maxBytes && c.seq_end === seq) {
      c.seq_end = seq + 1;
      c.item_count++;
      c.bytes += bytes;
      c.est_input_tokens += estInputTokens;
      return;
    }
    this.current = { idx: this.chunks.length, seq_start: seq, seq_end: seq + 1, item_count: 1, bytes, est_input_tokens: estInputTokens };
    this.chunks.push(this.current);
  }

  finish(): ChunkRange[] {
    return this.chunks;
  }
}
