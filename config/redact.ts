/**
 * What must never reach a log line or a Temporal history in clear: credentials, and the texts of
 * batch items. Payloads are encrypted (config/encryption.ts), but failure messages and stack
 * traces are not, and logs are plain text; these helpers are the guard on both.
 */

/** pino `redact` paths: every field that can hold a credential, at the top level and one level down. */
export const REDACT_PATHS = [
  'authorization',
  'Authorization',
  'cookie',
  'apiKey',
  'api_key',
  'key',
  'secret',
  'password',
  'token',
  'webhook_secret',
  'x-api-key',
  'x-goog-api-key',
  'DROVER_ADMIN_KEY',
  'DROVER_API_KEY',
  'DROVER_ENCRYPTION_KEYS',
  'OPENAI_API_KEY',
  'OPENAI_COMPATIBLE_API_KEY',
  'ANTHROPIC_API_KEY',
  'GEMINI_API_KEY',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
]
  .flatMap((field) => {
    const p = /^[A-Za-z_$][\w$]*$/.test(field) ? field : `["${field}"]`;
    const nested = p.startsWith('[') ? `*${p}` : `*.${p}`;
    return [p, nested];
  })
  .concat(['headers.authorization', '*.headers.authorization', '*.headers["x-api-key"]', 'req.headers.cookie', 'env', '*.env']);

// Credentials by shape, for the ones we were not told about: provider keys, Drover keys,
// bearer tokens, and `key=`-style query or form parameters.
const SECRET_SHAPES: Array<[RegExp, string]> = [
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '$1 [redacted]'],
  [/\bsk-[A-Za-z0-9_-]{8,}/g, 'sk-[redacted]'],
  [/\bAIza[0-9A-Za-z_-]{20,}/g, 'AIza[redacted]'],
  [/\bdrv_[A-Za-z0-9_-]{16,}/g, 'drv_[redacted]'],
  [/\b((?:api[_-]?)?key|token|secret|password|x-api-key|x-goog-api-key)(["']?\s*[:=]\s*["']?)[^\s&"',;}]{6,}/gi, '$1$2[redacted]'],
];

/** `text` with every credential (those given, and any that look like one) replaced by `[redacted]`. */
export function scrubSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) if (s.length >= 6) out = out.split(s).join('[redacted]');
  for (const [shape, replacement] of SECRET_SHAPES) out = out.replace(shape, replacement);
  return out;
}

/** Quoted spans longer than this are elided from untrusted messages: that is how providers and parsers echo input. */
const MAX_QUOTED = 8;
export const MAX_FAILURE_MESSAGE = 400;

/**
 * A failure message safe to keep in a history: no credential, at most MAX_FAILURE_MESSAGE
 * characters, and, when it comes from outside Drover (a provider's answer, a parser), no quoted
 * span longer than a few characters, since that is where echoed prompt text and item content sit
 * (`Invalid 'messages[1].content': '…'`, `Unexpected token 'h', "hello wor"... is not valid JSON`).
 */
export function safeFailureMessage(message: string, opts: { untrusted: boolean; secrets?: readonly string[] }): string {
  let out = scrubSecrets(message, opts.secrets);
  if (opts.untrusted) {
    const quoted = new RegExp(`(["'\`])((?:(?!\\1)[^\\n]){${MAX_QUOTED + 1},}?)\\1`, 'g');
    out = out.replace(quoted, (_m, q: string, inner: string) => `${q}[${inner.length} chars elided]${q}`);
  }
  return out.length > MAX_FAILURE_MESSAGE ? `${out.slice(0, MAX_FAILURE_MESSAGE - 1)}…` : out;
}
