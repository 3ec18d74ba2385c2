import { readFileSync } from 'node:fs';
import { DroverClient } from '../client/index.js';
import { resolveApiKey } from './api-key.js';
import { bool, GLOBAL_OPTIONS, parseFlags, splitCommand, str } from './args.js';
import { cancel, limits, pause, resume } from './commands/control.js';
import { estimate, validate } from './commands/check.js';
import { keys } from './commands/keys.js';
import { rerun } from './commands/rerun.js';
import { results } from './commands/results.js';
import { api, dev, worker } from './commands/services.js';
import { list, status } from './commands/status.js';
import { submit } from './commands/submit.js';
import type { Command, Context } from './context.js';
import { describeError, errorDocument, exitCodeFor, InterruptedError, UsageError } from './errors.js';
import { EXIT } from './exit-codes.js';
import { plural } from './format.js';
import { commandHelp, DEFAULT_URL, globalHelp } from './help.js';
import { Output } from './output.js';
import { invokedAs, setProgram } from './program.js';

export const COMMANDS: readonly Command[] = [
  submit,
  status,
  list,
  results,
  cancel,
  pause,
  resume,
  limits,
  rerun,
  estimate,
  validate,
  keys,
  dev,
  worker,
  api,
];

/** Long enough for a multi-gigabyte upload and its check on the server. */
const BULK_TIMEOUT_MS = 60 * 60_000;
/** Someone is waiting at a prompt: retry a refused connection a few times, but say so within ~2 s. */
const RETRY_BASE_MS = 250;

/** From source, package.json is one folder up; compiled (dist/cli), two. */
function version(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'drover' && pkg.version) return pkg.version;
    } catch {
      // not here; try the next
    }
  }
  return 'unknown';
}

/** Runs one command line; resolves to the exit code. Every expected failure is reported here. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // Hints name the program as it was run: `npx drover`, `npm run drover --`, `drover`, `./bin/drover.js`.
  setProgram(invokedAs(env));
  const { command: name, rest } = splitCommand(argv);
  let out = new Output({ json: argv.includes('--json'), quiet: false, color: false });
  let url = env.DROVER_URL || DEFAULT_URL;
  let command: Command | undefined;
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    // A second Ctrl-C means now: do not wait for anything to wind down.
    if (++interrupts > 1) process.exit(EXIT.interrupted);
    controller.abort(new InterruptedError());
  };
  try {
    if (name === undefined || name === 'help') {
      const { flags, positionals } = parseFlags(undefined, rest, GLOBAL_OPTIONS);
      if (bool(flags, 'version')) {
        process.stdout.write(`${version()}\n`);
        return EXIT.ok;
      }
      const topic = positionals[0];
      if (topic !== undefined) {
        const c = COMMANDS.find((x) => x.name === topic);
        if (!c) throw new UsageError(`no command ${JSON.stringify(topic)}; commands: ${COMMANDS.map((x) => x.name).join(', ')}`);
        process.stdout.write(commandHelp(c));
        return EXIT.ok;
      }
      if (name === 'help' || bool(flags, 'help')) {
        process.stdout.write(globalHelp(COMMANDS, version()));
        return EXIT.ok;
      }
      process.stderr.write(globalHelp(COMMANDS, version()));
      return EXIT.usage;
    }

    command = COMMANDS.find((c) => c.name === name);
    if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}; commands: ${COMMANDS.map((c) => c.name).join(', ')}`);
    const { flags, positionals } = parseFlags(command.name, rest, { ...GLOBAL_OPTIONS, ...command.options });
    out = new Output({ json: bool(flags, 'json'), quiet: bool(flags, 'quiet'), color: !bool(flags, 'no-color') });
    if (bool(flags, 'help')) {
      process.stdout.write(commandHelp(command));
      return EXIT.ok;
    }
    if (bool(flags, 'version')) {
      process.stdout.write(`${version()}\n`);
      return EXIT.ok;
    }
    const { min, max } = command.args;
    if (positionals.length < min) throw new UsageError(`missing argument: ${command.usage}`, command.name);
    if (positionals.length > max) {
      throw new UsageError(
        `unexpected argument ${JSON.stringify(positionals[max])}: \`drover ${command.name}\` takes ${max === 0 ? 'no arguments' : plural(max, 'argument')}`,
        command.name,
      );
    }

    url = str(flags, 'url') ?? url;
    let parsedUrl: URL | undefined;
    try {
      parsedUrl = new URL(url);
    } catch {
      parsedUrl = undefined;
    }
    if (!parsedUrl || (parsedUrl.protocol !== 'http:' && parsedUrl.protocol !== 'https:')) {
      throw new UsageError(
        `--url ${JSON.stringify(url)} is not an http(s) URL (from ${str(flags, 'url') !== undefined ? '--url' : 'DROVER_URL'})`,
        command.name,
      );
    }
    const apiKey = resolveApiKey(str(flags, 'api-key'), env, parsedUrl);
    const pollMs = Number(env.DROVER_POLL_MS) > 0 ? Number(env.DROVER_POLL_MS) : out.stderr.isTTY ? 1000 : 2000;
    if (!command.service) process.on('SIGINT', onSigint);
    const ctx: Context = {
      client: new DroverClient({ baseUrl: url, apiKey, retryBaseDelayMs: RETRY_BASE_MS }),
      bulk: new DroverClient({ baseUrl: url, apiKey, retryBaseDelayMs: RETRY_BASE_MS, timeoutMs: BULK_TIMEOUT_MS }),
      url,
      out,
      signal: controller.signal,
      pollMs,
    };
    return await command.run(ctx, { flags, positionals });
  } catch (err) {
    const failure = controller.signal.aborted && !(err instanceof UsageError) ? new InterruptedError() : err;
    if (failure instanceof InterruptedError) {
      out.error('drover: interrupted');
    } else {
      for (const line of describeError(failure, url, command?.name)) out.error(line);
    }
    if (out.json && !out.documentPrinted) out.document(errorDocument(failure, url));
    return exitCodeFor(failure);
  } finally {
    if (!command?.service) process.off('SIGINT', onSigint);
  }
}

// `drover … | head` closes stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.ok);
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // main reports every failure itself; reaching here is a bug in the CLI.
    process.stderr.write(`drover: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = EXIT.error;
  },
);
