/**
 * The HTTP edge: reads the body, works out which provider the request is for, counts it, checks
 * credentials, injects HTTP faults, dispatches to that provider's routes and renders `ApiError`s in
 * the provider's error format. Every response carries `x-request-id` (Anthropic's also `request-id`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AnthropicBatchStore, registerAnthropicBatchRoutes } from './anthropic/batches.js';
import { anthropicEdge } from './anthropic/edge.js';
import { registerAnthropicMessageRoutes } from './anthropic/messages.js';
import { ApiError, faultError } from './api-error.js';
import { detectProvider, type ProviderEdge, type ProviderName } from './edge.js';
import { FaultConfig, type FaultState } from './faults.js';
import { type GeminiBatchStore, registerGeminiBatchRoutes } from './gemini/batches.js';
import { GEMINI_VERSIONS, geminiEdge } from './gemini/edge.js';
import { type GeminiFileStore, registerGeminiFileRoutes } from './gemini/files.js';
import { registerGeminiGenerateRoutes } from './gemini/generate.js';
import { newRequestId } from './ids.js';
import { type BatchStore, registerBatchRoutes } from './openai/batches.js';
import { registerChatRoutes } from './openai/chat.js';
import { openaiEdge } from './openai/edge.js';
import { type FileStore, registerFileRoutes } from './openai/files.js';
import { jsonBody, Router, type Reply, type RequestContext } from './routing.js';
import type { PromptCache } from './prompt-cache.js';
import type { EmulatorStats } from './stats.js';

export interface EmulatorState {
  stats: EmulatorStats;
  faults: FaultState;
  promptCache?: PromptCache;
  /** OpenAI's files and batches (the names predate the other providers). */
  files: FileStore;
  batches: BatchStore;
  anthropicBatches: AnthropicBatchStore;
  geminiFiles: GeminiFileStore;
  geminiBatches: GeminiBatchStore;
  reset(): void;
}

/** Upper bound on a request body: the largest file the real Files API accepts, plus multipart overhead. */
const MAX_BODY_BYTES = 513 * 1024 * 1024;
const ADMIN_PREFIX = '/_emulator';

export function createEmulatorServer(state: EmulatorState): Server {
  const openai = new Router();
  registerFileRoutes(openai, state.files, state.stats);
  registerBatchRoutes(openai, state.batches, state.faults);
  registerChatRoutes(openai, state.faults, state.stats, state.promptCache);
  const anthropic = new Router();
  registerAnthropicMessageRoutes(anthropic, state.faults, state.stats, state.promptCache);
  registerAnthropicBatchRoutes(anthropic, state.anthropicBatches, state.faults);
  const gemini = new Router({ version: GEMINI_VERSIONS });
  registerGeminiGenerateRoutes(gemini, state.faults, state.stats);
  registerGeminiFileRoutes(gemini, state.geminiFiles, state.stats);
  registerGeminiBatchRoutes(gemini, state.geminiBatches, state.faults);
  const edges: Record<ProviderName, ProviderEdge> = {
    openai: openaiEdge(openai),
    anthropic: anthropicEdge(anthropic),
    gemini: geminiEdge(gemini),
  };
  const admin = adminRouter(state);

  return createServer((req, res) => {
    handle(req, res, edges, admin, state).catch((err: unknown) => {
      // Only reachable if writing the response itself failed; nothing left to tell the client.
      res.destroy(err instanceof Error ? err : undefined);
    });
  });
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  edges: Record<ProviderName, ProviderEdge>,
  admin: Router,
  state: EmulatorState,
): Promise<void> {
  const requestId = newRequestId();
  res.setHeader('x-request-id', requestId);
  // Every answer says it is made up, in a header the SDKs ignore and a proxy or log can see.
  res.setHeader('x-drover-emulator', 'synthetic');
  const method = (req.method ?? 'GET').toUpperCase();
  const url = new URL(req.url ?? '/', 'http://emulator.invalid');
  const path = url.pathname;
  const isAdmin = path === ADMIN_PREFIX || path.startsWith(`${ADMIN_PREFIX}/`);
  const edge = edges[detectProvider(path, req.headers, url.searchParams)];
  for (const [name, value] of Object.entries(edge.responseHeaders(requestId))) res.setHeader(name, value);
  try {
    const body = await readBody(req);
    const match = (isAdmin ? admin : edge.router).match(method, path);
    if (!isAdmin) {
      const key = `${method} ${match?.route.pattern ?? '*'}`;
      state.stats.requests[key] = (state.stats.requests[key] ?? 0) + 1;
      edge.authenticate(path, req.headers, url.searchParams);
      const fault = state.faults.takeHttp(method, path);
      if (fault) throw faultError(fault.status, fault.retry_after_s);
    }
    if (!match) throw isAdmin ? new ApiError(404, `Invalid URL (${method} ${path})`) : edge.notFound(method, path);
    const origin = `http://${req.headers.host ?? `${req.socket.localAddress}:${req.socket.localPort}`}`;
    const ctx: RequestContext = {
      method,
      path,
      origin,
      params: match.params,
      query: url.searchParams,
      headers: req.headers,
      body,
      requestId,
    };
    send(res, await match.route.handler(ctx));
  } catch (err) {
    if (!(err instanceof ApiError))
      process.emitWarning(`emulator: unhandled error on ${method} ${path}: ${String((err as Error)?.stack ?? err)}`);
    const apiError = err instanceof ApiError ? err : edge.internalError();
    send(res, isAdmin ? { status: apiError.status, json: { error: apiError.toObject() } } : edge.errorReply(apiError, requestId));
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, 'Request body is too large.', 'invalid_request_error');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, reply: Reply): void {
  res.statusCode = reply.status ?? 200;
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  if ('raw' in reply) {
    res.setHeader('content-type', reply.contentType);
    res.setHeader('content-length', reply.raw.length);
    res.end(reply.raw);
  } else if ('json' in reply) {
    const text = JSON.stringify(reply.json);
    res.setHeader('content-type', 'application/json');
    res.setHeader('content-length', Buffer.byteLength(text));
    res.end(text);
  } else {
    res.end();
  }
}

function adminRouter(state: EmulatorState): Router {
  return new Router()
    .add('GET', `${ADMIN_PREFIX}/health`, () => ({ json: { status: 'ok' } }))
    .add('GET', `${ADMIN_PREFIX}/stats`, () => ({ json: state.stats }))
    .add('GET', `${ADMIN_PREFIX}/faults`, () => ({ json: state.faults.current() }))
    .add('PUT', `${ADMIN_PREFIX}/faults`, (ctx) => {
      const parsed = FaultConfig.safeParse(jsonBody(ctx));
      if (!parsed.success) {
        return {
          status: 400,
          json: {
            error: { message: 'Invalid fault config.', type: 'invalid_request_error', param: null, code: 'invalid_fault_config' },
            issues: parsed.error.issues,
          },
        };
      }
      state.faults.set(parsed.data);
      return { json: state.faults.current() };
    })
    .add('POST', `${ADMIN_PREFIX}/reset`, () => {
      state.reset();
      return { status: 204 };
    });
}
