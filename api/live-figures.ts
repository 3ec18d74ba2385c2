import type { LiveFigures } from './views.js';

interface Entry {
  value: LiveFigures | undefined;
  at: number;
  reading: Promise<LiveFigures | undefined> | undefined;
}

/**
 * A running batch's live figures, shared by everyone who asks for the same batch. Asking the
 * workflow costs a round trip through Temporal to a worker busy with that very batch (and,
 * when it does not answer in time, an aggregate over every item in the store): a hundred
 * pollers each asking for themselves queued behind one another, for seconds each. Here at most
 * one read runs per batch: a caller with no read in flight reads and waits for it, as every
 * caller did before, while everyone asking in the meantime is answered at once with the last
 * figures (nothing newer exists until that read ends; never older than `maxAgeMs`). So a lone
 * poller always sees current figures, and a hundred see figures at most one read old.
 * `freshMs` may serve an answer for longer, at the price of figures that lag what the batch
 * did (a status still `queued` after its provider batches exist). What a caller changes
 * (pause, cancel, limits) replaces the entry with the workflow's answer at once.
 */
export class LiveFiguresCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly freshMs = 0,
    /** Past this age figures are never served, even while a read runs. */
    private readonly maxAgeMs = 60_000,
    private readonly maxEntries = 10_000,
  ) {}

  get(id: string, read: () => Promise<LiveFigures | undefined>): Promise<LiveFigures | undefined> {
    const entry = this.entries.get(id);
    const age = entry?.value ? Date.now() - entry.at : Infinity;
    if (age < this.freshMs || (entry?.reading && age < this.maxAgeMs)) return Promise.resolve(entry!.value);
    return this.read(id, read);
  }

  /** Figures known to be current (the answer of an update): served from now on. */
  set(id: string, value: LiveFigures): void {
    const entry = this.entries.get(id);
    this.store(id, { value, at: Date.now(), reading: entry?.reading });
  }

  private read(id: string, read: () => Promise<LiveFigures | undefined>): Promise<LiveFigures | undefined> {
    const entry = this.entries.get(id);
    if (entry?.reading) return entry.reading;
    const startedAt = Date.now();
    const reading = read().then(
      (value) => {
        const now = this.entries.get(id);
        // An update's answer that arrived while this read ran is newer: it stays.
        if (value && !(now?.value && now.at > startedAt)) this.store(id, { value, at: Date.now(), reading: undefined });
        else if (now) now.reading = undefined;
        return value;
      },
      (err: unknown) => {
        const now = this.entries.get(id);
        if (now) now.reading = undefined;
        throw err;
      },
    );
    this.store(id, { value: entry?.value, at: entry?.at ?? 0, reading });
    return reading;
  }

  private store(id: string, entry: Entry): void {
    if (!this.entries.has(id) && this.entries.size >= this.maxEntries) {
      // The oldest entry first (Map keeps insertion order): a batch not asked for lately.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.delete(id);
    this.entries.set(id, entry);
  }
}
