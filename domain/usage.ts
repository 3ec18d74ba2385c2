/** Token usage in Drover's own terms, whatever the provider calls it. */
export interface Usage {
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  /**
   * Input tokens written to a provider's prompt cache (Anthropic's cache_creation_input_tokens),
   * also counted in input_tokens: billed at the cache-write rate, above the input rate.
   */
  cache_write_input_tokens?: number;
}

export const ZERO_USAGE: Usage = Object.freeze({
  input_tokens: 0,
  cached_input_tokens: 0,
  output_tokens: 0,
  reasoning_tokens: 0,
});

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    input_tokens: a.input_tokens + b.input_tokens,
    cached_input_tokens: a.cached_input_tokens + b.cached_input_tokens,
    output_tokens: a.output_tokens + b.output_tokens,
    reasoning_tokens: a.reasoning_tokens + b.reasoning_tokens,
  };
}
