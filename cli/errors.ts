import {
  AuthenticationError,
  ConflictError,
  ConnectionError,
  DroverError,
  NotFoundError,
  RateLimitError,
  ServerError,
  TimeoutError,
  ValidationError,
  type Issue,
} from '../client/index.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { withProgram } from './program.js';

/** A command line that cannot be run as given; the message names the flag or argument at fault. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Ctrl-C ended the command before it finished. */
export class InterruptedError extends Error {
  constructor() {
    super('interrupted');
    this.name = 'InterruptedError';
  }
}

export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof UsageError) return EXIT.usage;
  if (err instanceof InterruptedError) return EXIT.interrupted;
  if (err instanceof ValidationError) return EXIT.invalidInput;
  if (err instanceof NotFoundError) return EXIT.notFound;
  if (err instanceof ConflictError) return EXIT.conflict;
  return EXIT.error;
}

/** `line 12: content: message`, or `path: message` when the problem is not on a line. */
export function formatIssue(issue: Issue): string {
  return `${issue.line !== undefined ? `line ${issue.line}: ` : ''}${issue.path}: ${issue.message}`;
}

/** The lines printed for a failure: one `drover: error:` line, then any issues, never a stack for expected errors. */
export function describeError(err: unknown, url: string, command?: string): string[] {
  if (err instanceof UsageError) {
    const name = err.command ?? command;
    const help = name ? `drover help ${name}` : 'drover --help';
    return [withProgram(`drover: error: ${err.message}`), withProgram(`(see \`${help}\`)`)];
  }
  if (err instanceof TimeoutError) return [`drover: error: the API at ${url} did not answer in time (${err.message})`];
  if (err instanceof ConnectionError) {
    return [
      withProgram(
        `drover: error: the API is not reachable at ${url}. Start a local stack with \`drover dev\`, or point --url (or DROVER_URL) at a running API.`,
      ),
    ];
  }
  if (err instanceof ValidationError) {
    const issues = err.issues ?? [];
    return [`drover: error: ${err.message}`, ...issues.map((i) => `  ${formatIssue(i)}`)];
  }
  if (err instanceof AuthenticationError) return [`drover: error: ${err.message} (HTTP ${err.status}; check --api-key or DROVER_API_KEY)`];
  if (err instanceof RateLimitError) return [`drover: error: rate limited by the API: ${err.message}`];
  if (err instanceof ServerError)
    return [`drover: error: the API failed: ${err.message}${err.requestId ? ` (request ${err.requestId})` : ''}`];
  if (err instanceof DroverError) return [`drover: error: ${err.message}`];
  if (isFsError(err)) return [`drover: error: ${err.message}`];
  // Not an error we expect: the stack helps whoever files the bug.
  return [`drover: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`];
}

/** The `{error: ...}` document printed on stdout for a failure under --json. */
export function errorDocument(err: unknown, url: string): { error: { type: string; message: string; status?: number; issues?: Issue[] } } {
  if (err instanceof DroverError) {
    return {
      error: {
        type: err.type,
        message: err instanceof ConnectionError && !(err instanceof TimeoutError) ? `the API is not reachable at ${url}` : err.message,
        ...(err.status !== undefined ? { status: err.status } : {}),
        ...(err.issues ? { issues: err.issues } : {}),
      },
    };
  }
  if (err instanceof UsageError) return { error: { type: 'usage', message: err.message } };
  if (err instanceof InterruptedError) return { error: { type: 'interrupted', message: 'interrupted' } };
  return { error: { type: 'internal', message: err instanceof Error ? err.message : String(err) } };
}

function isFsError(err: unknown): err is NodeJS.ErrnoException {
  return (
    err instanceof Error &&
    typeof (err as NodeJS.ErrnoException).code === 'string' &&
    typeof (err as NodeJS.ErrnoException).syscall === 'string'
  );
}
