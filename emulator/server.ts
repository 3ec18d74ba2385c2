/**
 * The HTTP edge: reads the body, counts the request, checks auth, injects HTTP faults, dispatches to
 * a route and turns `ApiError`s into OpenAI's error body. Every response carries `x-request-id`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ApiError, faultError } from './api-error.js';
import { FaultConfig, type FaultState } from './faults.js';
import { newRequestId } from './ids.js';
import { BatchStore, registerBatchRoutes } from './openai-batches.js';
import { registerChatRoutes } from './openai-chat.js';
import { FileStore, registerFileRoutes } from './openai-files.js';
import { jsonBody, Router, type Reply, type RequestContext } from './routing.js';
import type { EmulatorStats } from './stats.js';

export interface EmulatorState {
  stats: EmulatorStats;
  faults: FaultState;
  files: FileStore;
  batches: BatchStore;
  reset(): void;
}

/** Upper bound on a request body: the largest file the real Files API accepts, plus multipart overhead. */
const MAX_BODY_BYTES = 513 * 1024 * 1024;
const ADMIN_PREFIX = '/_emulator';

export function createEmulatorServer(state: EmulatorState): Server {
  const api = new Router();
  registerFileRoutes(api, state.files, state.stats);
  registerBatchRoutes(api, state.batches);
  registerChatRoutes(api, state.faults, state.stats);
  const admin = adminRouter(state);

  return createServer((req, res) => {
    handle(req, res, api, admin, state).catch((err: unknown) => {
      // Only reachable if writing the response itself failed; nothing left to tell the client.
      res.destroy(err instanceof Error ? err : undefined);
    });
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, api: Router, admin: Router, state: EmulatorState): Promise<void> {
  const requestId = newRequestId();
  res.setHeader('x-request-id', requestId);
  const method = (req.method ?? 'GET').toUpperCase();
  const url = new URL(req.url ?? '/', 'http://emulator.invalid');
  const path = url.pathname;
  try {
    const body = await readBody(req);
    const isAdmin = path === ADMIN_PREFIX || path.startsWith(`${ADMIN_PREFIX}/`);
    const match = (isAdmin ? admin : api).match(method, path);
    if (!isAdmin) {
      const key = `${method} ${match?.route.pattern ?? '*'}`;
      state.stats.requests[key] = (state.stats.requests[key] ?? 0) + 1;
      checkAuth(req.headers.authorization);
      const fault = state.faults.takeHttp(method, path);
      if (fault) throw faultError(fault.status, fault.retry_after_s);
    }
    if (!match) throw new ApiError(404, `Invalid URL (${method} ${path})`);
    const ctx: RequestContext = { method, path, params: match.params, query: url.searchParams, headers: req.headers, body, requestId };
    send(res, await match.route.handler(ctx));
  } catch (err) {
    const apiError =
      err instanceof ApiError
        ? err
        : new ApiError(500, 'The server had an error while processing your request. Sorry about that!', 'server_error');
    if (!(err instanceof ApiError)) process.emitWarning(`emulator: unhandled error on ${method} ${path}: ${String((err as Error)?.stack ?? err)}`);
    for (const [name, value] of Object.entries(apiError.headers)) res.setHeader(name, value);
    send(res, { status: apiError.status, json: { error: apiError.toObject() } });
  }
}

/**
 * Any bearer token is accepted; the key is never stored, logged or echoed, unlike the real API's
 * "Incorrect API key provided: sk-...", which would leak it into test logs.
 */
function checkAuth(header: string | undefined): void {
  if (!header || !/^Bearer\s+\S+/i.test(header)) {
    throw new ApiError(
      401,
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
      'invalid_request_error',
      null,
      header ? 'invalid_api_key' : null,
    );
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
