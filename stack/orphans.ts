import { execFile, spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { promisify } from 'node:util';

/**
 * The watchdog: a small detached Node process that reads child pids on its stdin and, when that
 * pipe closes (this process exited, however it died, SIGKILL included), stops each child's
 * process group: SIGTERM, then SIGKILL after 5 s. Node cannot set PR_SET_PDEATHSIG, and a
 * pipe's EOF is the one signal a SIGKILLed parent still sends.
 */
const WATCHDOG = `
const groups = new Set();
let pending = '';
process.on('SIGINT', () => {});
process.on('SIGHUP', () => {});
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  pending += d;
  const lines = pending.split('\\n');
  pending = lines.pop();
  for (const n of lines.map(Number)) n > 0 ? groups.add(n) : groups.delete(-n);
});
const alive = (g) => { try { process.kill(-g, 0); return true; } catch { return false; } };
const send = (sig) => { for (const g of groups) try { process.kill(-g, sig); } catch {} };
const reap = () => {
  send('SIGTERM');
  const deadline = Date.now() + 5000;
  const tick = setInterval(() => {
    for (const g of groups) if (!alive(g)) groups.delete(g);
    if (groups.size === 0 || Date.now() > deadline) { send('SIGKILL'); clearInterval(tick); process.exit(0); }
  }, 100);
};
process.stdin.on('end', reap);
process.stdin.on('error', reap);
`;

let watchdog: ChildProcess | undefined;

/**
 * Ties `child` (spawned with `detached: true`, so it leads its own process group and a Ctrl-C in
 * the terminal reaches only this process, which then stops its children in order) to this
 * process's life: if this process dies without stopping it, the watchdog does.
 */
export function dieWithThisProcess(child: ChildProcess): void {
  if (!child.pid) return;
  if (!watchdog) {
    watchdog = spawn(process.execPath, ['-e', WATCHDOG], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    watchdog.unref();
    (watchdog.stdin as Socket).unref();
  }
  const pid = child.pid;
  watchdog.stdin!.write(`${pid}\n`);
  child.once('exit', () => {
    if (watchdog?.stdin?.writable) watchdog.stdin.write(`-${pid}\n`);
  });
}

/** The command line of a live process; null when it is gone or a zombie waiting to be reaped. */
export async function commandLineOf(pid: number): Promise<string | null> {
  try {
    const { stdout } = await promisify(execFile)('ps', ['-ww', '-o', 'stat=,args=', '-p', String(pid)]);
    const [stat, ...args] = stdout.trim().split(/\s+/);
    return stat && !stat.startsWith('Z') ? args.join(' ') : null;
  } catch {
    return null;
  }
}

/** The parent of a process, as `ps` sees it; null when the process is gone. */
export async function parentOf(pid: number): Promise<number | null> {
  try {
    const { stdout } = await promisify(execFile)('ps', ['-o', 'ppid=', '-p', String(pid)]);
    return Number(stdout.trim()) || null;
  } catch {
    return null;
  }
}

/**
 * Stops a process an earlier run of ours left behind (its watchdog was killed too), once its
 * command line shows it is ours (`marker`), so a reused pid is never hit.
 */
export async function stopLeftover(pid: number, marker: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<boolean> {
  const cmd = await commandLineOf(pid);
  if (!cmd?.includes(marker)) return false;
  process.kill(pid, signal);
  const deadline = Date.now() + 10_000;
  while (await commandLineOf(pid)) {
    if (Date.now() > deadline) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return true;
}
