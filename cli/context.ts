import type { ParseArgsOptionsConfig } from 'node:util';
import type { DroverClient } from '../client/index.js';
import type { Flags } from './args.js';
import type { Output } from './output.js';

/** What every command runs with: the clients, where output goes, and the Ctrl-C signal. */
export interface Context {
  client: DroverClient;
  /**
   * For calls that carry or read a whole item file (upload, submit/estimate/validate of an
   * uploaded file): the client's timeout covers the whole request, and a large file takes
   * longer than the default 60 s to stream and check.
   */
  bulk: DroverClient;
  url: string;
  out: Output;
  /** Aborted on the first Ctrl-C (its reason is an InterruptedError). */
  signal: AbortSignal;
  /** Between polls while watching a batch. */
  pollMs: number;
}

export interface CommandInput {
  flags: Flags;
  positionals: string[];
}

export interface Command {
  name: string;
  /** One line, for `drover --help`. */
  summary: string;
  /** `drover submit FILE [flags]`. */
  usage: string;
  /** Positional arguments: how many, and their names for the usage error. */
  args: { min: number; max: number };
  options: ParseArgsOptionsConfig;
  /** The rest of `drover help COMMAND`: what it does, its flags, examples. */
  help: string;
  /** Runs a server in this process (dev, worker, api): no client, and it handles its own signals. */
  service?: boolean;
  run(ctx: Context, input: CommandInput): Promise<number>;
}
