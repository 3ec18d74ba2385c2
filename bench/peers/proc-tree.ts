/**
 * Peak memory of a process and everything it starts, from /proc: each process's own high-water
 * mark (VmHWM), kept per pid while the tree runs, then summed. The sum is an upper bound on the
 * tree's peak at any one instant (the processes may peak at different times).
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';

export async function vmHwmKb(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined; // gone between listing and reading
  }
}

/** Resets a process's VmHWM to its current RSS (`clear_refs` 5), so a long-lived process is measured per run. */
export async function resetPeak(pid: number): Promise<boolean> {
  try {
    await writeFile(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

async function parentOf(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: fields resume after the last ')'.
    const ppid = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
    return ppid === undefined ? undefined : Number(ppid);
  } catch {
    return undefined;
  }
}

/** The root and all its live descendants. */
export async function processTree(root: number): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((d) => /^\d+$/.test(d)).map(Number);
  const children = new Map<number, number[]>();
  await Promise.all(
    pids.map(async (pid) => {
      const ppid = await parentOf(pid);
      if (ppid !== undefined) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    }),
  );
  const tree: number[] = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift()!;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** Samples a tree every `everyMs` until `stop()`; `peakKb()` is the sum of the per-process peaks seen. */
export class TreePeak {
  private readonly peaks = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> = Promise.resolve();

  constructor(
    private readonly roots: readonly number[],
    everyMs = 250,
  ) {
    this.timer = setInterval(() => {
      this.sampling = this.sampling.then(() => this.sample());
    }, everyMs);
  }

  async sample(): Promise<void> {
    for (const root of this.roots) {
      for (const pid of await processTree(root)) this.note(pid, await vmHwmKb(pid));
    }
  }

  /** A reading from elsewhere (a process's own report of its peak as it exits). */
  note(pid: number, kb: number | undefined): void {
    if (kb !== undefined && kb > (this.peaks.get(pid) ?? 0)) this.peaks.set(pid, kb);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sampling;
  }

  peakKb(): number {
    let sum = 0;
    for (const kb of this.peaks.values()) sum += kb;
    return sum;
  }
}
