import express, { Router, type Request, type RequestHandler } from 'express';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';
import type { Authenticator } from '../auth/authenticator.js';
import { authorize } from '../auth/authenticator.js';
import { defineRoute, json, type Route } from '../define-route.js';
import { AppError } from '../errors.js';
import { errorResponse } from './docs.js';

/** The cookie a browser keeps after `POST /codec/session`, for the Temporal UI, which cannot send a bearer key. */
export const CODEC_COOKIE = 'drover_codec';
const COOKIE_HOURS = 12;
const ENDPOINTS = ['/codec/encode', '/codec/decode'];

const Base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64');

/** Proto3 JSON of `temporal.api.common.v1.Payloads`: metadata values and data in base64. */
export const CodecPayloads = z.object({
  payloads: z.array(
    z.object({
      metadata: z.record(z.string(), Base64).nullish(),
      data: Base64.nullish(),
    }),
  ),
});
type JsonPayload = z.infer<typeof CodecPayloads>['payloads'][number];

export interface CodecOptions {
  /** Drover's payload codec; without one (encryption off) both endpoints pass payloads through. */
  codec: PayloadCodec | undefined;
  /** Origins allowed to call the endpoints from a browser: the Temporal UI's. */
  corsOrigins: readonly string[];
}

/**
 * What runs before any codec body is read: CORS for the UI's origin (preflights answered here),
 * and the caller's key, from `Authorization: Bearer` (the CLI's `--codec-auth`) or else from the
 * cookie `POST /codec/session` sets, since the Temporal UI sends an Authorization header only
 * with its own OIDC access token.
 */
export function codecGuard(options: CodecOptions, auth: Authenticator): Router {
  const router = Router();
  router.use('/codec', cors(options.corsOrigins));
  router.use(ENDPOINTS, async (req, res, next) => {
    res.locals.caller = await auth.authenticate(req.get('authorization') ?? bearerFromCookie(req));
    next();
  });
  router.use(ENDPOINTS, express.json({ limit: '16mb' }));
  router.use('/codec/session', express.urlencoded({ extended: false, limit: '4kb' }));
  return router;
}

/**
 * The remote codec the Temporal UI and `temporal --codec-endpoint` speak: `POST /codec/decode`
 * and `POST /codec/encode`, `{"payloads": [...]}` both ways. Only an `admin` key may use it:
 * decoding reveals every item text of every tenant.
 */
export function codecRoutes(options: CodecOptions, auth: Authenticator): Route[] {
  const convert = (op: 'encode' | 'decode') =>
    defineRoute(
      {
        method: 'post',
        path: `/codec/${op}`,
        tag: 'Admin',
        scope: 'admin',
        summary: op === 'decode' ? 'Decrypt Temporal payloads (remote codec)' : 'Encrypt Temporal payloads (remote codec)',
        description:
          'The remote codec protocol of the Temporal UI and CLI (`temporal workflow show --codec-endpoint <api>/codec --codec-auth "Bearer <key>"`). ' +
          `The key may also come as the \`${CODEC_COOKIE}\` cookie \`POST /codec/session\` sets. Payloads that are not \`binary/encrypted\` pass through.`,
        body: CodecPayloads,
        responses: {
          200: { description: 'The payloads, converted.', content: json(CodecPayloads) },
          400: errorResponse('The body is not payloads, or a payload could not be converted (unknown key id, failed authentication).'),
          401: errorResponse('No key, or an unknown or revoked one.'),
          403: errorResponse('A key without the admin scope.'),
        },
      },
      async ({ body }) => {
        const payloads = body.payloads.map(fromJson);
        let out: Payload[];
        try {
          out = options.codec ? await options.codec[op](payloads) : payloads;
        } catch (err) {
          // Only what went wrong (unknown key id, failed authentication tag), never the payload.
          throw new AppError(400, 'invalid_request', `a payload could not be ${op}d: ${(err as Error).message}`);
        }
        return { payloads: out.map(toJson) };
      },
    );

  return [
    convert('decode'),
    convert('encode'),
    defineRoute(
      {
        method: 'get',
        path: '/codec',
        tag: 'Admin',
        scope: 'public',
        summary: 'Let this browser decode in the Temporal UI',
        description: 'A page (no script) where an admin key is entered once; it posts to `POST /codec/session`.',
        responses: { 200: { description: 'HTML.', content: { 'text/html': { schema: { type: 'string' } } } } },
      },
      ({ res }) => {
        res.type('html').send(page('Decode Temporal payloads in this browser', loginForm));
      },
    ),
    defineRoute(
      {
        method: 'post',
        path: '/codec/session',
        tag: 'Admin',
        scope: 'public',
        summary: 'Remember an admin key in this browser for the codec',
        description: `Checks the admin key of the form and sets it as an HttpOnly, SameSite=Strict cookie (\`${CODEC_COOKIE}\`, path /codec, ${COOKIE_HOURS} h); the key is checked again on every codec request, so revoking it stops decoding at once.`,
        reads: { body: { 'application/x-www-form-urlencoded': { schema: { type: 'object', properties: { key: { type: 'string' } } } } } },
        responses: {
          200: { description: 'HTML: the cookie is set.', content: { 'text/html': { schema: { type: 'string' } } } },
          401: errorResponse('No key, or an unknown or revoked one.'),
          403: errorResponse('A key without the admin scope.'),
        },
      },
      async ({ req, res }) => {
        const key = typeof req.body?.key === 'string' ? req.body.key.trim() : '';
        authorize(await auth.authenticate(key ? `Bearer ${key}` : undefined), 'admin');
        // Behind a TLS-terminating proxy the request arrives as http; Secure only narrows where the cookie goes.
        const secure = req.secure || req.get('x-forwarded-proto') === 'https' ? '; Secure' : '';
        res.set(
          'Set-Cookie',
          `${CODEC_COOKIE}=${encodeURIComponent(key)}; Path=/codec; HttpOnly; SameSite=Strict; Max-Age=${COOKIE_HOURS * 3600}${secure}`,
        );
        res
          .type('html')
          .send(
            page(
              'Done',
              `<p>For ${COOKIE_HOURS} hours the Temporal UI in this browser decodes payloads through this API; the key is checked on every request. In the UI's codec settings, turn on <em>Include cross-origin credentials</em>.</p>`,
            ),
          );
      },
    ),
  ];
}

function bearerFromCookie(req: Request): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === CODEC_COOKIE && value.length) return `Bearer ${decodeURIComponent(value.join('='))}`;
  }
  return undefined;
}

/** CORS for the UI's origins only, credentials allowed so the cookie travels (that needs an exact origin, never `*`). */
function cors(origins: readonly string[]): RequestHandler {
  return (req, res, next) => {
    const origin = req.get('origin');
    if (origin && origins.includes(origin)) {
      res.set({
        'Access-Control-Allow-Origin': origin,
        'Access-Control-Allow-Credentials': 'true',
        'Access-Control-Allow-Methods': 'POST, GET, OPTIONS',
        'Access-Control-Allow-Headers': 'Content-Type, X-Namespace, Authorization',
        'Access-Control-Max-Age': '600',
      });
    }
    res.vary('Origin');
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next();
  };
}

function fromJson({ metadata, data }: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    ...(data ? { data: Buffer.from(data, 'base64') } : {}),
  };
}

function toJson({ metadata, data }: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(
      Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')]),
    ),
    ...(data ? { data: Buffer.from(data).toString('base64') } : {}),
  };
}

const loginForm = `<form method="post" action="/codec/session">
<p><label>Admin key <input type="password" name="key" autocomplete="off" size="60" required></label></p>
<p><button type="submit">Remember in this browser</button></p>
</form>`;

function page(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Drover codec: ${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;
}
