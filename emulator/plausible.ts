/**
 * What makes emulated answers plausible where that is cheap, without giving up determinism: a
 * label that follows obvious sentiment words ("Loved it" is positive), a label named in the text,
 * and summaries made of the input's own words. Pure: the request's text in, choices out.
 */

/** The text an answer is about, and what the prompt asked of its length. */
export interface Hints {
  /** The item's text: the last user message, without the operations' `Text:` lead-in. */
  text: string;
  /** "Use at most N words" in the prompt (the summarize operation's max_words). */
  maxWords?: number;
}

const POSITIVE = new Set(
  'love loved loves lovely great good excellent amazing awesome fantastic perfect happy glad pleased wonderful best like liked enjoy enjoyed recommend superb fast helpful works nice brilliant delighted satisfied thanks thank'.split(
    ' ',
  ),
);
const NEGATIVE = new Set(
  'hate hated hates bad terrible awful horrible poor worst broke broken break breaks disappointed disappointing slow useless refund angry annoyed waste wasted failed fails fail faulty defective never problem problems issue issues wrong late missing damaged charged twice complaint cancel'.split(
    ' ',
  ),
);
const NEGATORS = new Set(['not', 'no', 'never', "don't", "didn't", "isn't", "wasn't", "doesn't", 'hardly']);

const words = (text: string) => text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];

/** Above 0 leans positive, below 0 negative; a negator flips the word after it ("not good"). */
export function sentimentScore(text: string): number {
  let score = 0;
  let flip = 1;
  for (const w of words(text)) {
    if (NEGATORS.has(w)) {
      flip = -1;
      continue;
    }
    if (POSITIVE.has(w)) score += flip;
    else if (NEGATIVE.has(w)) score -= flip;
    flip = 1;
  }
  return score;
}

const POSITIVE_LABEL = /^(positive|pos|good|happy|satisfied|praise)$/i;
const NEGATIVE_LABEL = /^(negative|neg|bad|unhappy|dissatisfied|complaint)$/i;
const NEUTRAL_LABEL = /^(neutral|mixed|other|none)$/i;

/**
 * The labels of an enum that the text points to, best first: ones named in the text, then the
 * sentiment label the text leans to (or a neutral one when it leans nowhere). Empty when the text
 * says nothing about them, and the caller picks at random.
 */
export function likelyLabels(values: readonly unknown[], text: string): string[] {
  const labels = values.filter((v): v is string => typeof v === 'string');
  if (labels.length === 0 || text === '') return [];
  const inText = new Set(words(text));
  const named = labels.filter((l) => inText.has(l.toLowerCase()) || (l.length > 3 && inText.has(`${l.toLowerCase()}s`)));
  const score = sentimentScore(text);
  // A sentiment enum has a positive and a negative label; only then does a neutral one mean anything.
  const sentimentEnum = labels.some((l) => POSITIVE_LABEL.test(l)) && labels.some((l) => NEGATIVE_LABEL.test(l));
  const leaning = score > 0 ? labels.filter((l) => POSITIVE_LABEL.test(l)) : score < 0 ? labels.filter((l) => NEGATIVE_LABEL.test(l)) : [];
  const neutral = sentimentEnum && score === 0 ? labels.filter((l) => NEUTRAL_LABEL.test(l)) : [];
  // A text that leans one way is not about the opposite label, even if it names it ("not bad").
  const opposite = score > 0 ? NEGATIVE_LABEL : score < 0 ? POSITIVE_LABEL : undefined;
  return [...new Set([...leaning, ...named.filter((l) => !opposite?.test(l)), ...neutral])];
}

/** A summary from the input's own words: its opening, cut at `maxWords` (at most 25) and at `maxLength`. */
export function summaryOf(hints: Hints, maxLength = Number.POSITIVE_INFINITY): string | undefined {
  const tokens = hints.text.split(/\s+/).filter(Boolean);
  if (tokens.length === 0) return undefined;
  const text = tokens.slice(0, Math.min(hints.maxWords ?? 25, 25)).join(' ');
  return text.length > maxLength ? text.slice(0, maxLength) : text;
}

/** The item's text from a user message: the operations wrap it as `Text:\n{content}`. */
export function hintsFrom(userText: string, allText: string): Hints {
  const maxWords = /at most (\d+) words?/i.exec(allText)?.[1];
  return { text: userText.replace(/^Text:\s*/, '').trim(), ...(maxWords ? { maxWords: Number(maxWords) } : {}) };
}

/** Keys of free-text fields that describe the input: filled from its own words. */
export const SUMMARY_KEY = /summary|summarize|synopsis|abstract|gist|tl_?dr/i;
