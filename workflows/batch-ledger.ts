import type {
  BatchProgress,
  BatchStatus,
  ChunkAttemptReport,
  ChunkEstimatePage,
  InFlightChunk,
  LedgerState,
  Limits,
  LimitsPatch,
  StopReason,
  Tally,
} from './contracts.js';
import { MAX_NANOS, MAX_USD, nanosToDecimal, nanosToUsd, usdToNanos, type Nanos } from '../domain/money.js';
import { addTally, addUsd, ZERO_TALLY } from './tally.js';

/** Before EXACT_MONEY_PATCH: sums of dollars as a query shows them, to the nano-dollar. */
const nanoUsd = (x: number) => Math.round(x * 1e9) / 1e9;

/** Before EXACT_MONEY_PATCH, dollar amounts compared with a tolerance of a millionth of a cent. */
export const EPSILON_USD = 1e-8;

/** A limit in nano-dollars; one beyond what money.ts keeps exact holds as that bound, which no batch reaches. */
const limitNanos = (usd: number): Nanos => (usd >= MAX_USD ? MAX_NANOS : usdToNanos(usd));

const FINAL_STATUS: Record<StopReason, BatchStatus> = {
  cancelled: 'cancelled',
  timed_out: 'timed_out',
  budget_exhausted: 'budget_exhausted',
};

/** The status a batch ends with, from why it stopped or else from its items' outcomes. */
export function closingStatus(
  stopReason: StopReason | null | undefined,
  totals: Pick<Tally, 'succeeded' | 'failed' | 'cancelled'>,
): BatchStatus {
  if (stopReason) return FINAL_STATUS[stopReason];
  if (totals.failed === 0 && totals.cancelled === 0) return 'completed';
  return totals.succeeded === 0 ? 'failed' : 'completed_with_failures';
}

/**
 * When a batch should finish at its pace so far, or null: a paused, waiting or stopping batch has
 * no pace to project. Always after `nowMs`: a query answers with the workflow's clock of its last
 * change, so the API projects again with its own clock and an ETA it shows is never in the past.
 */
export function projectEta(
  p: { status: BatchStatus; paused: boolean; done: number; itemCount: number; startedAtMs: number },
  nowMs: number,
): number | null {
  const moving = (p.status === 'running' || p.status === 'queued') && !p.paused;
  const elapsed = nowMs - p.startedAtMs;
  if (!moving || p.done <= 0 || p.done >= p.itemCount || elapsed <= 0) return null;
  return nowMs + Math.max(Math.round((elapsed / p.done) * (p.itemCount - p.done)), 1);
}

/**
 * The batch workflow's bookkeeping, kept apart from Temporal so it can be tested directly: which
 * chunks run, what they reserved and spent, the limits and the progress a query reports.
 *
 * Everything it holds is small whatever the batch's size: per-chunk estimates live in the store
 * and arrive a page at a time (`addEstimates`), so continue-as-new carries sums, not arrays.
 *
 * Money: the state keeps dollars (what activities report and older runs carried over). With
 * `exact` (EXACT_MONEY_PATCH) every figure is taken in integer nano-dollars (domain/money.ts)
 * before it is added or compared, and each dollar figure it keeps or shows is one integer divided
 * once, so spend, reservations and the forecast carry no binary noise. Without it, the float
 * arithmetic of the runs recorded before the patch, so they replay unchanged.
 */
export class BatchLedger {
  private readonly inFlight: Map<number, InFlightChunk>;
  private estimates: ChunkEstimatePage | null = null;
  /** Bumped by every report from a chunk: what a wait for news compares. */
  private news = 0;
  /** What the sample waits to reserve while it does not fit (see reserveSample). */
  private sampleWantsUsd: number | null = null;

  constructor(
    private readonly itemCount: number,
    private readonly s: LedgerState,
    private readonly exact = false,
  ) {
    this.inFlight = new Map(s.inFlight.map((c) => [c.chunkIndex, c]));
  }

  static fresh(itemCount: number, limits: Limits, nowMs: number, exact = false): BatchLedger {
    return new BatchLedger(
      itemCount,
      {
        chunkCount: -1,
        nextChunk: 0,
        inFlight: [],
        totals: ZERO_TALLY,
        plannedExpectedUsd: 0,
        startedExpectedUsd: 0,
        limits,
        paused: false,
        stopReason: null,
        startedAtMs: nowMs,
      },
      exact,
    );
  }

  /** What continue-as-new carries: sums, limits and the chunks in flight (at most the window). */
  snapshot(): LedgerState {
    return { ...this.s, inFlight: [...this.inFlight.values()] };
  }

  get planned(): boolean {
    return this.s.chunkCount >= 0;
  }
  get chunkCount(): number {
    return this.s.chunkCount;
  }
  get limits(): Limits {
    return this.s.limits;
  }
  get paused(): boolean {
    return this.s.paused;
  }
  get stopReason(): StopReason | null {
    return this.s.stopReason;
  }
  get totals(): Tally {
    return this.s.totals;
  }
  get runningCount(): number {
    return this.inFlight.size;
  }
  runningChunks(): number[] {
    return [...this.inFlight.keys()];
  }

  setPlan(chunkCount: number, expectedUsd: number): void {
    this.s.chunkCount = chunkCount;
    this.s.plannedExpectedUsd = expectedUsd;
  }

  /** Reports received so far in this run; changes whenever a chunk reports anything. */
  get changes(): number {
    return this.news;
  }

  /** Ended chunks' spend, the finished attempts of running ones and the sample's share of the rest. */
  spent(): number {
    if (this.exact) return nanosToUsd(this.spentNanos());
    let sum = this.s.totals.costUsd;
    for (const c of this.inFlight.values()) sum += c.spentUsd ?? 0;
    if (this.s.sample) sum += this.s.sample.spentUsd;
    return sum;
  }
  reserved(): number {
    if (this.exact) return nanosToUsd(this.reservedNanos());
    let sum = 0;
    for (const c of this.inFlight.values()) sum += c.reserveUsd;
    if (this.s.sample) sum += this.s.sample.reserveUsd;
    return sum;
  }
  private spentNanos(): Nanos {
    let sum = usdToNanos(this.s.totals.costUsd);
    for (const c of this.inFlight.values()) sum += usdToNanos(c.spentUsd ?? 0);
    if (this.s.sample) sum += usdToNanos(this.s.sample.spentUsd);
    return sum;
  }
  private reservedNanos(): Nanos {
    let sum = 0;
    for (const c of this.inFlight.values()) sum += usdToNanos(c.reserveUsd);
    if (this.s.sample) sum += usdToNanos(this.s.sample.reserveUsd);
    return sum;
  }
  /** Chunks in flight that are not waiting for a grant: those whose reservations may come free. */
  get busyCount(): number {
    let n = 0;
    for (const c of this.inFlight.values()) if (!c.wants) n++;
    return n;
  }
  get waitingCount(): number {
    return this.inFlight.size - this.busyCount;
  }

  hasWork(): boolean {
    return this.s.nextChunk < this.s.chunkCount;
  }
  allDone(): boolean {
    return this.planned && !this.hasWork() && this.inFlight.size === 0;
  }
  windowOpen(maxParallel: number): boolean {
    return this.hasWork() && this.inFlight.size < maxParallel;
  }

  /** The next chunk's estimates, or null when the page holding them must be read first. */
  private nextEstimate(): { reserveUsd: number; expectedUsd: number } | null {
    const page = this.estimates;
    const i = this.s.nextChunk - (page?.from ?? 0);
    if (!page || i < 0 || i >= page.reserveUsd.length) return null;
    return { reserveUsd: page.reserveUsd[i]!, expectedUsd: page.expectedUsd[i]! };
  }
  needsEstimates(): boolean {
    return this.hasWork() && this.nextEstimate() === null;
  }
  /** The next chunk to start: where the next page of estimates starts when it is not loaded. */
  get nextChunk(): number {
    return this.s.nextChunk;
  }
  addEstimates(page: ChunkEstimatePage): void {
    this.estimates = page;
  }

  private fits(reserveUsd: number): boolean {
    const limit = this.s.limits.maxCostUsd;
    if (limit === null) return true;
    if (this.exact) return this.spentNanos() + this.reservedNanos() + usdToNanos(reserveUsd) <= limitNanos(limit);
    return this.spent() + this.reserved() + reserveUsd <= limit + EPSILON_USD;
  }
  /**
   * Whether the next chunk's worst case fits under the cost limit beside what runs already. A
   * chunk waiting to retry comes first: new chunks would otherwise take the budget it waits for.
   */
  fitsBudget(): boolean {
    const next = this.nextEstimate();
    if (this.s.limits.maxCostUsd === null || !next) return true;
    return this.waitingCount === 0 && this.fits(next.reserveUsd);
  }
  /** What the next attempt or chunk needs and what the limit leaves free: what a waiting batch says. */
  budgetShortfall(): { neededUsd: number; freeUsd: number; scope?: 'tenant'; forSample?: boolean } | null {
    if (this.tenantShortfall) return { ...this.tenantShortfall, scope: 'tenant' };
    if (this.s.limits.maxCostUsd === null) return null;
    const waiting = [...this.inFlight.values()].flatMap((c) => (c.wants ? [c.wants.reserveUsd] : []));
    const next = this.nextEstimate();
    const neededUsd = this.sampleWantsUsd ?? (waiting.length > 0 ? Math.min(...waiting) : next?.reserveUsd);
    if (neededUsd === undefined) return null;
    const forSample = this.sampleWantsUsd !== null ? { forSample: true } : {};
    if (this.exact) {
      const free = limitNanos(this.s.limits.maxCostUsd) - this.spentNanos() - this.reservedNanos();
      return { neededUsd, freeUsd: nanosToUsd(Math.max(free, 0)), ...forSample };
    }
    return { neededUsd, freeUsd: Math.max(this.s.limits.maxCostUsd - this.spent() - this.reserved(), 0), ...forSample };
  }

  /**
   * Reserves the sample's worst case before it runs; false (nothing reserved) when it does not fit
   * beside what is spent, and then a waiting batch says the sample needs it.
   */
  reserveSample(reserveUsd: number): boolean {
    if (!this.fits(reserveUsd)) {
      this.sampleWantsUsd = reserveUsd;
      return false;
    }
    this.sampleWantsUsd = null;
    this.s.sample = { reserveUsd, spentUsd: 0 };
    return true;
  }
  /**
   * The sample ended: its reservation comes free and what it spent counts until the chunks that
   * hold its items report it in their tallies (`complete` takes each one's share off).
   */
  sampleDone(costUsd: number): void {
    this.s.sample = { reserveUsd: 0, spentUsd: costUsd };
    this.news++;
  }

  /**
   * A chunk finished an attempt: what it spent counts now, its reservation comes free, and its
   * next attempt waits until `grantNext` reserves for it. A report already counted is ignored.
   */
  attemptDone(report: ChunkAttemptReport): boolean {
    const c = this.inFlight.get(report.chunkIndex);
    if (!c || report.attempt <= (c.reportedAttempt ?? 0)) return false;
    c.reportedAttempt = report.attempt;
    c.spentUsd = addUsd(c.spentUsd ?? 0, report.costUsd, this.exact);
    c.reserveUsd = 0;
    c.wants = { attempt: report.attempt + 1, reserveUsd: report.nextReserveUsd };
    this.news++;
    return true;
  }
  /** The first waiting attempt that fits the batch's limit, or null. */
  nextGrant(): { chunkIndex: number; attempt: number; reserveUsd: number } | null {
    for (const c of [...this.inFlight.values()].sort((a, b) => a.chunkIndex - b.chunkIndex)) {
      if (c.wants && this.fits(c.wants.reserveUsd)) return { chunkIndex: c.chunkIndex, ...c.wants };
    }
    return null;
  }
  /**
   * Reserves a waiting attempt (see nextGrant). False when the chunk no longer waits for it: it
   * ended (or was closed by reconciliation) while the tenant's cap was being asked.
   */
  grant(chunkIndex: number, attempt: number): boolean {
    const c = this.inFlight.get(chunkIndex);
    if (c?.wants?.attempt !== attempt) return false;
    c.reserveUsd = c.wants.reserveUsd;
    c.wants = null;
    return true;
  }
  /** Reserves the first waiting attempt that fits; returns whom to tell, or null when none fits. */
  grantNext(): { chunkIndex: number; attempt: number } | null {
    const next = this.nextGrant();
    if (!next) return null;
    this.grant(next.chunkIndex, next.attempt);
    return { chunkIndex: next.chunkIndex, attempt: next.attempt };
  }
  /** The next chunk to start and what its first attempt reserves, once its estimates are loaded. */
  peekNext(): { chunkIndex: number; reserveUsd: number } | null {
    const est = this.nextEstimate();
    return est ? { chunkIndex: this.s.nextChunk, reserveUsd: est.reserveUsd } : null;
  }

  /**
   * Set while the tenant's monthly cap refuses the next attempt: what it needed and what the cap
   * left free. Not carried over continue-as-new: the next run asks the cap again.
   */
  tenantShortfall: { neededUsd: number; freeUsd: number } | null = null;
  overspent(): boolean {
    const limit = this.s.limits.maxCostUsd;
    if (limit === null) return false;
    return this.exact ? this.spentNanos() > limitNanos(limit) : this.spent() > limit + EPSILON_USD;
  }
  deadlinePassed(nowMs: number): boolean {
    return this.s.limits.deadlineMs !== null && nowMs >= this.s.limits.deadlineMs;
  }

  /** Takes the next chunk into flight with its reservation; returns its index. */
  startNext(): number {
    const est = this.nextEstimate();
    if (!est) throw new Error(`estimates of chunk ${this.s.nextChunk} are not loaded`);
    const chunkIndex = this.s.nextChunk++;
    this.inFlight.set(chunkIndex, { chunkIndex, ...est });
    this.s.startedExpectedUsd = addUsd(this.s.startedExpectedUsd, est.expectedUsd, this.exact);
    return chunkIndex;
  }

  /**
   * A chunk's final tally. Anything not in flight is ignored, so a report that arrives twice
   * (a replayed signal, a reconciliation racing the chunk's own report) never counts twice.
   */
  complete(chunkIndex: number, tally: Tally): boolean {
    if (!this.inFlight.delete(chunkIndex)) return false;
    // The tally covers every attempt, those already counted in the chunk's spentUsd too.
    this.s.totals = addTally(this.s.totals, tally, this.exact);
    // And its items the sample answered: that spend is in the totals now, no longer the sample's.
    const sample = this.s.sample;
    if (sample && tally.sampleCostUsd)
      sample.spentUsd = nanosToUsd(Math.max(usdToNanos(sample.spentUsd) - usdToNanos(tally.sampleCostUsd), 0));
    this.news++;
    return true;
  }

  stop(reason: StopReason): boolean {
    if (this.s.stopReason) return false;
    this.s.stopReason = reason;
    return true;
  }
  pause(): void {
    this.s.paused = true;
  }
  resume(): void {
    this.s.paused = false;
  }

  /** Throws the reason a limits change is refused; nothing changes when it throws. */
  validateLimits(patch: LimitsPatch, nowMs: number): void {
    if (this.s.stopReason) throw new Error(`the batch is stopping (${this.s.stopReason}); its limits can no longer change`);
    if (patch.maxCostUsd !== undefined && patch.maxCostUsd !== null && this.exact) {
      const limit = limitNanos(patch.maxCostUsd);
      if (limit < this.spentNanos())
        throw new Error(`max_cost_usd ${patch.maxCostUsd} is below the $${nanosToDecimal(this.spentNanos())} already spent`);
      if (limit < this.spentNanos() + this.reservedNanos())
        throw new Error(
          `max_cost_usd ${patch.maxCostUsd} is below the $${nanosToDecimal(this.spentNanos() + this.reservedNanos())} already spent or reserved by running chunks; pause the batch and lower it once they finish, or cancel it`,
        );
    } else if (patch.maxCostUsd !== undefined && patch.maxCostUsd !== null) {
      if (patch.maxCostUsd + EPSILON_USD < this.spent())
        throw new Error(`max_cost_usd ${patch.maxCostUsd} is below the $${this.spent().toFixed(6)} already spent`);
      // What running attempts reserved, they may still spend: a lower limit could not hold.
      const committed = this.spent() + this.reserved();
      if (patch.maxCostUsd + EPSILON_USD < committed)
        throw new Error(
          `max_cost_usd ${patch.maxCostUsd} is below the $${committed.toFixed(6)} already spent or reserved by running chunks; pause the batch and lower it once they finish, or cancel it`,
        );
    }
    if (patch.deadlineMs !== undefined && patch.deadlineMs !== null && patch.deadlineMs <= nowMs) {
      throw new Error(`deadline ${new Date(patch.deadlineMs).toISOString()} is in the past`);
    }
  }
  setLimits(patch: LimitsPatch): void {
    if (patch.maxCostUsd !== undefined) this.s.limits = { ...this.s.limits, maxCostUsd: patch.maxCostUsd };
    if (patch.deadlineMs !== undefined) this.s.limits = { ...this.s.limits, deadlineMs: patch.deadlineMs };
  }

  /** Closing counts replace the running tally, so a late query agrees with the store. */
  close(totals: Tally): void {
    this.s.totals = totals;
    this.inFlight.clear();
    if (this.s.sample) this.s.sample = { reserveUsd: 0, spentUsd: 0 };
  }

  /** Spent, reserved and the forecast (spent, plus what running and unstarted chunks are expected to cost). */
  private costFigures(): BatchProgress['cost'] {
    const limitUsd = this.s.limits.maxCostUsd;
    if (this.exact) {
      const spent = this.spentNanos();
      let inFlightExpected = 0;
      for (const c of this.inFlight.values()) inFlightExpected += usdToNanos(c.expectedUsd);
      const notStarted = Math.max(usdToNanos(this.s.plannedExpectedUsd) - usdToNanos(this.s.startedExpectedUsd), 0);
      return {
        spentUsd: nanosToUsd(spent),
        reservedUsd: nanosToUsd(this.reservedNanos()),
        limitUsd,
        estimatedTotalUsd: nanosToUsd(spent + inFlightExpected + notStarted),
      };
    }
    let inFlightExpected = 0;
    for (const c of this.inFlight.values()) inFlightExpected += c.expectedUsd;
    const notStarted = Math.max(this.s.plannedExpectedUsd - this.s.startedExpectedUsd, 0);
    return {
      spentUsd: nanoUsd(this.spent()),
      reservedUsd: nanoUsd(this.reserved()),
      limitUsd,
      estimatedTotalUsd: nanoUsd(this.spent() + inFlightExpected + notStarted),
    };
  }

  progress(status: BatchStatus, nowMs: number): BatchProgress {
    const t = this.s.totals;
    const total = Math.max(this.s.chunkCount, 0);
    const done = t.succeeded + t.failed + t.cancelled;
    const eta = projectEta({ status, paused: this.s.paused, done, itemCount: this.itemCount, startedAtMs: this.s.startedAtMs }, nowMs);
    return {
      status,
      itemCount: this.itemCount,
      ...t,
      pending: this.itemCount - done,
      cost: this.costFigures(),
      deadlineMs: this.s.limits.deadlineMs,
      paused: this.s.paused,
      chunks: {
        total,
        completed: this.s.nextChunk - this.inFlight.size,
        running: this.inFlight.size,
        waiting: Math.max(total - this.s.nextChunk, 0),
      },
      startedAtMs: this.s.startedAtMs,
      etaMs: eta,
      ...(status === 'awaiting_budget' ? { budget: this.budgetShortfall() } : {}),
    };
  }
}
