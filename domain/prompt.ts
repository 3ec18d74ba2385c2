import type { ChatMessage, ItemInput, PromptSpec } from './batch-spec.js';
import { renderTemplate } from './template.js';

/** The part of an item that is sent: what `items.input` stores. */
export type StoredInput = Pick<ItemInput, 'content' | 'inputs' | 'messages' | 'attachments'>;

/**
 * Turns a stored item into chat messages. The template defaults to `{content}`; `inputs`
 * fields and `content` are all placeholders; attachments follow the rendered text in the same
 * user message. Throws MissingPlaceholderError.
 */
export function buildMessages(spec: Pick<PromptSpec, 'system_prompt' | 'user_prompt_template'>, item: StoredInput): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (spec.system_prompt) messages.push({ role: 'system', content: spec.system_prompt });
  if (item.messages) {
    messages.push(...item.messages);
    return messages;
  }
  const template = spec.user_prompt_template ?? '{content}';
  const values = item.content === undefined ? { ...item.inputs } : { ...item.inputs, content: item.content };
  const text = renderTemplate(template, values);
  messages.push({ role: 'user', content: item.attachments ? [{ type: 'text', text }, ...item.attachments] : text });
  return messages;
}
