/**
 * Runs one peer's Python driver as a process group of its own, with a deadline, sampling the
 * peak RSS of its process tree and keeping its output in a log file.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { TreePeak } from './proc-tree.js';
import { parseResultLine, type PeerResult } from './report.js';

export interface PeerRunOptions {
  python: string;
  script: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  logPath: string;
}

export interface PeerRun {
  result?: PeerResult;
  /** Spawn to exit, interpreter start and imports included. */
  processSeconds: number;
  peakMb: number;
  timedOut: boolean;
  exitCode: number | null;
}

export async function runPeer(opts: PeerRunOptions): Promise<PeerRun> {
  const log = createWriteStream(opts.logPath);
  const t0 = performance.now();
  const child = spawn(opts.python, [opts.script, ...opts.args], {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so a timeout kills the driver and anything it started.
    detached: true,
  });
  const peak = new TreePeak([child.pid!]);
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => {
    log.write(d);
    // Only the closing RESULT line matters; Curator's progress output is large.
    stdout = (stdout + d.toString()).slice(-64 * 1024);
  });
  child.stderr.on('data', (d: Buffer) => log.write(d));

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }, opts.timeoutMs);
  const exitCode = await new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  clearTimeout(timer);
  const processSeconds = (performance.now() - t0) / 1000;
  await peak.stop();
  await new Promise<void>((resolve) => log.end(resolve));

  const result = timedOut ? undefined : parseResultLine(stdout);
  // The driver's own getrusage peak, taken as it exits, after the last sample.
  if (result?.maxrss_kb !== undefined) peak.note(child.pid!, result.maxrss_kb);
  return { result, processSeconds, peakMb: peak.peakKb() / 1024, timedOut, exitCode };
}
