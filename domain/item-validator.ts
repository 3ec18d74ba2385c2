import { ItemInput, type BatchSettings, type ChatMessage, type ContentPart } from './batch-spec.js';
import type { TokenCounter } from './estimate.js';
import { formatPath, zodIssues, type Issue } from './issues.js';
import { buildMessages, type StoredInput } from './prompt.js';
import { MissingPlaceholderError } from './template.js';

/** An item ready for the store: `seq` is its position, the key everything else joins on. */
export interface PreparedItem {
  seq: number;
  item_id: string;
  input: StoredInput;
  metadata: Record<string, unknown> | null;
  /** Bytes of the rendered messages: what chunk planning sums to stay under provider file limits. */
  request_bytes: number;
  /** Prompt tokens as the estimator counts them: what budgets reserve against. */
  est_input_tokens: number;
}

export const MAX_ISSUES = 200;

/** Limits on one item, checked at intake: what the model can read, and how big one item may be. */
export interface ItemLimits {
  /** The model's context window; an item whose prompt (plus `max_output_tokens`, when set) cannot fit is refused. */
  context?: { model: string; tokens: number; source: string; outputTokens?: number | undefined };
  /** Bytes of one item's rendered prompt; more is refused as over a limit (413). */
  maxItemBytes?: number;
}

/**
 * No tokenizer spends more than this many bytes of ordinary text on one token: an item this many
 * times the context window in bytes cannot fit, and is refused without being counted.
 */
const MAX_BYTES_PER_TOKEN = 16;

/**
 * Validates items one at a time, so the JSON and the streamed NDJSON paths share every rule
 * and a million-item upload never needs all items in memory (only their ids, for duplicates).
 */
export class ItemValidator {
  readonly issues: Issue[] = [];
  issueCount = 0;
  /** The first issue that is a limit of this deployment rather than a mistake in the item (a 413). */
  limitIssue: Issue | undefined;
  private readonly seen = new Map<string, number>();
  private nextSeq = 0;

  constructor(
    private readonly settings: Pick<BatchSettings, 'system_prompt' | 'user_prompt_template'>,
    private readonly countTokens: TokenCounter = () => 0,
    private readonly media: MediaLimits = { maxImageBytes: Infinity, maxDocumentBytes: Infinity, documentUrls: true },
    private readonly limits: ItemLimits = {},
  ) {}

  get count(): number {
    return this.nextSeq;
  }

  /** `where` is `{ index }` for a JSON body or `{ line }` for NDJSON. */
  accept(raw: unknown, where: { index?: number; line?: number }): PreparedItem | null {
    const seq = this.nextSeq++;
    const prefix = where.line === undefined ? `items[${where.index ?? seq}]` : '';
    const parsed = ItemInput.safeParse(raw);
    if (!parsed.success) {
      for (const issue of zodIssues(parsed.error, prefix, where.line)) this.add(issue);
      return null;
    }
    const item = parsed.data;
    const at = (field: string): Issue => {
      const issue: Issue = { path: formatPath([field], prefix), message: '' };
      if (where.line !== undefined) issue.line = where.line;
      return issue;
    };

    const firstSeen = this.seen.get(item.id);
    if (firstSeen !== undefined) {
      const where0 = where.line === undefined ? `items[${firstSeen}]` : `line ${firstSeen}`;
      this.add({ ...at('id'), message: `duplicate id "${item.id}" (first at ${where0})` });
      return null;
    }
    this.seen.set(item.id, where.line ?? where.index ?? seq);

    if (item.content === undefined && item.inputs === undefined && item.messages === undefined && item.attachments === undefined) {
      this.add({ ...at('content'), message: 'item has nothing to send: give content, inputs or messages' });
      return null;
    }
    if (item.messages && (item.content !== undefined || item.inputs !== undefined || item.attachments !== undefined)) {
      this.add({
        ...at('messages'),
        message: 'messages cannot be combined with content, inputs or attachments (put parts in the messages)',
      });
      return null;
    }
    const tooLarge = this.mediaProblems(
      item.attachments ?? item.messages?.flatMap((m) => (typeof m.content === 'string' ? [] : m.content)) ?? [],
    );
    if (tooLarge) {
      this.add({ ...at(item.attachments ? 'attachments' : 'messages'), message: tooLarge });
      return null;
    }

    const input: StoredInput = {};
    if (item.content !== undefined) input.content = item.content;
    if (item.inputs !== undefined) input.inputs = item.inputs;
    if (item.messages !== undefined) input.messages = item.messages;
    if (item.attachments !== undefined) input.attachments = item.attachments;
    let messages: ChatMessage[];
    try {
      messages = buildMessages(this.settings, input);
    } catch (err) {
      if (!(err instanceof MissingPlaceholderError)) throw err;
      this.add({
        ...at(item.inputs ? 'inputs' : 'content'),
        message: `user_prompt_template placeholder {${err.placeholder}} has no value in this item`,
      });
      return null;
    }
    const where0 = at(item.messages ? 'messages' : item.content !== undefined ? 'content' : 'inputs');
    const requestBytes = Buffer.byteLength(JSON.stringify(messages));
    const maxItemBytes = this.limits.maxItemBytes;
    if (maxItemBytes !== undefined && requestBytes > maxItemBytes) {
      const issue = {
        ...where0,
        message: `item "${item.id}" is ${requestBytes.toLocaleString('en-US')} bytes; one item may be at most ${maxItemBytes.toLocaleString('en-US')} bytes (DROVER_MAX_ITEM_BYTES): shorten it or split it into several items`,
      };
      this.add(issue);
      this.limitIssue ??= issue;
      return null;
    }
    const context = this.limits.context;
    let tokens: number;
    if (context && requestBytes > context.tokens * MAX_BYTES_PER_TOKEN) tokens = Math.ceil(requestBytes / MAX_BYTES_PER_TOKEN);
    else tokens = this.countTokens(messages);
    if (context && tokens + (context.outputTokens ?? 0) > context.tokens) {
      const output = context.outputTokens ? ` plus ${context.outputTokens.toLocaleString('en-US')} for max_output_tokens` : '';
      const from = context.source === 'price-data' ? 'the price data' : 'the default for its provider';
      this.add({
        ...where0,
        message: `item "${item.id}" is about ${tokens.toLocaleString('en-US')} tokens${output}; ${context.model} reads at most ${context.tokens.toLocaleString('en-US')} tokens per request (its context window, from ${from}): shorten or split the item`,
      });
      return null;
    }
    return {
      seq,
      item_id: item.id,
      input,
      metadata: item.metadata ?? null,
      request_bytes: requestBytes,
      est_input_tokens: tokens,
    };
  }

  /** The provider's size limits, checked on the decoded size of inline data. */
  private mediaProblems(parts: ContentPart[]): string | null {
    for (const [i, p] of parts.entries()) {
      if (p.type === 'document' && p.url && !this.media.documentUrls)
        return `document ${i}: this provider does not fetch documents by URL; send the PDF as base64 data`;
      if (p.type === 'image' && p.url?.startsWith('data:') && !this.media.dataUrls)
        return `image ${i}: this provider does not take data: URLs; send the image as base64 data with media_type`;
      const inline =
        p.type === 'text' ? undefined : (p.data ?? (p.url?.startsWith('data:') ? p.url.slice(p.url.indexOf(',') + 1) : undefined));
      if (p.type === 'text' || !inline) continue;
      const bytes = decodedBase64Bytes(inline);
      const max = p.type === 'image' ? this.media.maxImageBytes : this.media.maxDocumentBytes;
      if (bytes > max)
        return `${p.type} ${i} is ${(bytes / 1048576).toFixed(1)} MB; the provider takes at most ${(max / 1048576).toFixed(0)} MB`;
    }
    return null;
  }

  add(issue: Issue): void {
    this.issueCount++;
    if (this.issues.length < MAX_ISSUES) this.issues.push(issue);
  }
}

export interface MediaLimits {
  maxImageBytes: number;
  maxDocumentBytes: number;
  /** Whether the provider fetches documents by URL itself. */
  documentUrls: boolean;
  /** Whether the provider takes an image as a `data:` URL. */
  dataUrls?: boolean;
}

export function decodedBase64Bytes(data: string): number {
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  return Math.floor((data.length * 3) / 4) - padding;
}
