import type { Command } from './context.js';
import { EXIT_CODE_HELP } from './exit-codes.js';
import { withProgram } from './program.js';

/** Help texts. The flag list of submit, estimate and validate is shared, so it is written once. */

export const DEFAULT_URL = 'http://127.0.0.1:3000';

export const BATCH_FLAGS_HELP = `FILE
  A .jsonl/.ndjson file (one item per line: {"id", "content"} or {"id", "inputs": {...}}, ...)
  or a .csv file with an "id" column ("content" becomes the item's text, "metadata.<k>" its
  metadata, every other column an input for --prompt's {placeholders}). It is uploaded as a
  stream, so its size does not matter.

Request flags (each overrides the same field of --spec)
  --spec FILE.json            a JSON object of request fields (any field of POST /v1/batches)
  -m, --model NAME            the model, e.g. gpt-4.1-mini (required here or in --spec)
  --operation OP              classify | extract | summarize | enrich | run (plain prompts, the default);
                              may be left out when an operation's own flag names it
  classify:   --categories a,b,c (or repeated)  --multi-label  --instructions TEXT
  extract:    --extraction-instructions TEXT  [--schema FILE.json: the JSON Schema of the answer]
  summarize:  --summary-instructions TEXT  --max-words N
  enrich:     --fields FILE.json  and/or  --field name:type[:v1|v2|...] (repeated;
              type: string | number | boolean | categorical, which takes the values)
  run:        --system-prompt TEXT  --prompt TEMPLATE (user prompt, {content} or {column})
              --schema FILE.json (JSON Schema: structured output via response_format)
  --mode auto|batch|realtime  provider batch API, one call per item, or chosen per chunk (default auto)
  --max-cost USD              spend ceiling for the batch
  --on-budget-exhausted wait|stop
  --deadline ISO | --time-limit 30m|2h|90s
  --webhook-url URL           POSTed signed events when the batch ends
  --idempotency-key KEY       a retried submit with the same key returns the same batch
  --metadata k=v              repeatable
  --chunk-size N  --max-parallel-chunks N  --max-attempts N  --max-output-tokens N`;

/** The help texts name the program as the user ran it (`npx drover`, `npm run drover --`, `drover`): see program.ts. */
export function globalHelp(commands: readonly Command[], version: string): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return withProgram(`drover ${version}: run large batches of LLM requests on a Drover server

Usage: drover <command> [arguments] [flags]

Commands
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}
  ${'help'.padEnd(width)}  help COMMAND: flags and examples of a command

Global flags
  --url URL          the Drover API (default: $DROVER_URL, else ${DEFAULT_URL})
  --api-key KEY      sent as a bearer token (default: $DROVER_API_KEY, else on this machine
                     the local dev stack's .data/admin-key)
  --json             print exactly one JSON document on stdout (the API's object); no progress
  -q, --quiet        no progress or hints on stderr
  --no-color         no ANSI colours (also: NO_COLOR set, or output not a terminal)
  -h, --help         help; drover help COMMAND for one command
  --version          the version

Environment
  DROVER_URL, DROVER_API_KEY   defaults of --url and --api-key
  DROVER_POLL_MS               time between polls while waiting (default 1000 on a terminal, else 2000)
  NO_COLOR                     no ANSI colours

Output
  stdout holds the result only (pipe it); progress, hints and errors go to stderr.
  Under --json a failure prints {"error": {"type", "message", "issues"?}} on stdout as well.

Exit codes
${EXIT_CODE_HELP.map(([code, text]) => `  ${String(code).padStart(3)}  ${text}`).join('\n')}

Examples
  drover dev                                          # the whole stack locally, API on :3000
  drover submit reviews.jsonl -m gpt-4.1-mini --operation classify --categories positive,negative,neutral
  drover submit rows.csv -m gpt-4.1-mini --prompt 'Translate to French: {text}' --max-cost 5 --detach
  drover status batch_123 --watch
  drover results batch_123 --out results.csv
`);
}

export function commandHelp(c: Command): string {
  return withProgram(`Usage: ${c.usage}

${c.summary}

${c.help.replace(/^\n+/, '').trimEnd()}

Global flags: --url, --api-key, --json, --quiet, --no-color (see drover --help)
`);
}
