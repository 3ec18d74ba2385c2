/** `POST /v1/chat/completions`: the realtime counterpart of a batch line, non-streaming only. */
import type { FaultState } from '../faults.js';
import { jsonBody, type Router } from '../routing.js';
import type { EmulatorStats } from '../stats.js';
import type { PromptCache } from '../prompt-cache.js';
import { generateChatCompletion, openaiCachedTokens, parseChatRequest, promptTokens } from './completion.js';

export function registerChatRoutes(router: Router, faults: FaultState, stats: EmulatorStats, promptCache?: PromptCache): void {
  router.add('POST', '/v1/chat/completions', (ctx) => {
    const req = parseChatRequest(jsonBody(ctx));
    const headers = faults.admitRealtime('openai', req.model, promptTokens(req.messages));
    const malformed = req.mode !== 'text' && faults.malformedChat(req.hash);
    const completion = generateChatCompletion(req, { malformed, cachedTokens: openaiCachedTokens(req, promptCache) });
    stats.chat_completions++;
    return { json: completion, headers };
  });
}
