import { createHash } from 'node:crypto';
import type { EmulatorStats } from './stats.js';

/** The shortest prefix OpenAI and Anthropic (Sonnet, Opus) cache; shorter ones are never cached. */
export const MIN_CACHED_PREFIX_TOKENS = 1024;
/** OpenAI reports cache hits in steps of this many tokens. */
export const OPENAI_CACHE_STEP = 128;

/**
 * The emulator's stand-in for the providers' prompt caches: which prompt prefixes it has seen, per
 * provider and model. A prefix of at least MIN_CACHED_PREFIX_TOKENS seen before is a cache read;
 * seen for the first time, a write. Entries never expire (the real ones live minutes); `reset`
 * forgets them. Kept in memory only.
 */
export class PromptCache {
  private readonly seen = new Set<string>();

  constructor(private readonly stats: EmulatorStats) {}

  /** 'read' when this prefix was cached before, 'write' when it is cached now; null when it is too short to cache. */
  touch(provider: string, model: string, prefix: string, tokens: number): 'read' | 'write' | null {
    if (tokens < MIN_CACHED_PREFIX_TOKENS) return null;
    const key = createHash('sha256').update(`${provider}\u0000${model}\u0000${prefix}`).digest('hex');
    if (this.seen.has(key)) {
      this.stats.prompt_cache.reads++;
      return 'read';
    }
    this.seen.add(key);
    this.stats.prompt_cache.writes++;
    return 'write';
  }

  reset(): void {
    this.seen.clear();
  }
}
