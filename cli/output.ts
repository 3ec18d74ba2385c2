import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { styleFor, PLAIN, type Style } from './format.js';

/**
 * Where everything the CLI says goes. stdout carries the command's result only (under --json,
 * exactly one JSON document), so it can be piped; progress, notes and errors go to stderr.
 */
export interface OutputOptions {
  json: boolean;
  quiet: boolean;
  color: boolean;
  stdout?: Writable & { isTTY?: boolean; columns?: number };
  stderr?: Writable & { isTTY?: boolean; columns?: number };
}

export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly stdout: Writable & { isTTY?: boolean; columns?: number };
  readonly stderr: Writable & { isTTY?: boolean; columns?: number };
  /** Styles for stdout and stderr: ANSI only on a terminal, never under NO_COLOR or --no-color. */
  readonly outStyle: Style;
  readonly errStyle: Style;
  private printedJson = false;

  constructor(opts: OutputOptions) {
    this.json = opts.json;
    this.quiet = opts.quiet;
    this.stdout = opts.stdout ?? process.stdout;
    this.stderr = opts.stderr ?? process.stderr;
    this.outStyle = opts.color ? styleFor(this.stdout) : PLAIN;
    this.errStyle = opts.color ? styleFor(this.stderr) : PLAIN;
  }

  /** Human progress and notes: stderr, silenced by --json and --quiet. */
  get chatty(): boolean {
    return !this.json && !this.quiet;
  }

  /** A line of the command's result (stdout). Never under --json. */
  line(text = ''): void {
    if (!this.json) this.stdout.write(`${text}\n`);
  }

  /** The one JSON document of a --json run. A second call is a bug: scripts parse stdout whole. */
  document(value: unknown): void {
    if (this.printedJson) throw new Error('a second JSON document on stdout');
    this.printedJson = true;
    this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  get documentPrinted(): boolean {
    return this.printedJson;
  }

  /** The result: the API's object under --json, else the human lines. */
  result(value: unknown, human: () => string[]): void {
    if (this.json) this.document(value);
    else for (const l of human()) this.line(l);
  }

  /** A note for people (hints, "uploading…"): stderr, not under --json or --quiet. */
  note(text: string): void {
    if (this.chatty) this.stderr.write(`${text}\n`);
  }

  /** Errors always reach stderr, whatever the flags. */
  error(text: string): void {
    this.stderr.write(`${text}\n`);
  }

  /** Writes to stdout honouring backpressure, for exports of any size. */
  async write(chunk: string | Uint8Array): Promise<void> {
    if (!this.stdout.write(chunk)) await once(this.stdout, 'drain');
  }

  /** Resolves once stdout has handed everything written so far to the OS. */
  flush(): Promise<void> {
    return new Promise((resolve) => this.stdout.write('', () => resolve()));
  }
}
