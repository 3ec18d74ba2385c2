/** `models/*:generateContent` and `models/*:countTokens`: Gemini's realtime counterpart of a batch request. */
import type { FaultState } from '../faults.js';
import { jsonBody, type Router } from '../routing.js';
import type { EmulatorStats } from '../stats.js';
import { generateContent, parseGenerateRequest } from './content.js';

export const GEMINI_UNPARSEABLE = 'Invalid JSON payload received. Unexpected token.';

export function registerGeminiGenerateRoutes(router: Router, faults: FaultState, stats: EmulatorStats): void {
  router
    .add('POST', '/:version/models/:model:generateContent', (ctx) => {
      const req = parseGenerateRequest(jsonBody(ctx, GEMINI_UNPARSEABLE), ctx.params.model as string);
      const headers = faults.admitRealtime('gemini', req.model, req.promptTokens);
      const malformed = req.mode === 'json' && faults.malformedChat(req.hash);
      const response = generateContent(req, { malformed });
      stats.gemini.generate_content++;
      return { json: response, headers };
    })
    .add('POST', '/:version/models/:model:countTokens', (ctx) => {
      // Either `{contents}` or `{generateContentRequest: {...}}`.
      const body = jsonBody(ctx, GEMINI_UNPARSEABLE);
      const inner = body.generateContentRequest ?? body.generate_content_request;
      const req = parseGenerateRequest(typeof inner === 'object' && inner !== null ? inner : body, ctx.params.model as string);
      return {
        json: {
          totalTokens: req.promptTokens,
          promptTokensDetails: Object.entries(req.promptModalities).map(([modality, tokenCount]) => ({ modality, tokenCount })),
        },
      };
    });
}
