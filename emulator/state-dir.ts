/**
 * The emulator's optional durable state (`stateDir`), so a restarted emulator still knows its
 * files and batches and a client mid-batch carries on instead of finding its batch gone.
 *
 * One folder per kind of object, one `<id>.json` per object, and beside it the object's raw
 * parts (`<id>.<blob>`: file contents, a batch's input, its results). Every write goes to a
 * temporary file that is renamed over the old one, so a process killed at any moment leaves the
 * old version or the new one, never half of either; blobs are written before the JSON that
 * makes them count, and on start-up temporary files and blobs without their JSON are swept away.
 * Writes are synchronous, so an object is on disk (in the OS's cache, which outlives the process)
 * before the request that made it is answered. One process at a time per directory.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const FORMAT = 1;
const SAFE_ID = /^[A-Za-z0-9_-]+$/;
const TMP = '.tmp';

interface Envelope<T> {
  v: number;
  /** Creation order across restarts: listings are in creation order. */
  seq: number;
  record: T;
}

export interface Stored<T> {
  id: string;
  record: T;
  /** A blob written with this object, or undefined if it never was. */
  blob(name: string): Buffer | undefined;
}

/** The objects of one kind, e.g. OpenAI batches. */
export class RecordDir<T> {
  private readonly seqs = new Map<string, number>();
  private lastSeq = 0;

  /** @param blobs every blob name this kind may have, so a delete removes them all */
  constructor(
    private readonly dir: string,
    private readonly blobs: readonly string[] = [],
  ) {
    mkdirSync(dir, { recursive: true });
  }

  /** Writes `record` (and any blobs given; earlier blobs stay) for `id`, replacing its previous version. */
  put(id: string, record: T, blobs: Readonly<Record<string, Buffer>> = {}): void {
    if (!SAFE_ID.test(id)) throw new Error(`emulator state: unsafe id ${JSON.stringify(id)}`);
    for (const [name, data] of Object.entries(blobs)) writeAtomic(join(this.dir, `${id}.${name}`), data);
    let seq = this.seqs.get(id);
    if (seq === undefined) {
      seq = ++this.lastSeq;
      this.seqs.set(id, seq);
    }
    const envelope: Envelope<T> = { v: FORMAT, seq, record };
    writeAtomic(join(this.dir, `${id}.json`), Buffer.from(JSON.stringify(envelope)));
  }

  delete(id: string): void {
    if (!this.seqs.delete(id)) return;
    // The JSON first: a kill part-way leaves only blobs, which the next start sweeps away.
    rmSync(join(this.dir, `${id}.json`), { force: true });
    for (const name of this.blobs) rmSync(join(this.dir, `${id}.${name}`), { force: true });
  }

  /**
   * Hands every stored object to `restore`, in creation order, and returns how many it took. An
   * object that cannot be read, or that `restore` throws on, is skipped with `warn`: never fatal.
   */
  load(warn: (message: string) => void, restore: (stored: Stored<T>) => void): number {
    const names = readdirSync(this.dir);
    const ids = new Set(names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length)));
    for (const name of names) {
      const owner = name.slice(0, name.indexOf('.'));
      if (name.endsWith(TMP) || !ids.has(owner)) rmSync(join(this.dir, name), { force: true });
    }
    const found: Array<Stored<T> & { seq: number }> = [];
    for (const id of ids) {
      const path = join(this.dir, `${id}.json`);
      try {
        const envelope = JSON.parse(readFileSync(path, 'utf8')) as Envelope<T>;
        if (envelope?.v !== FORMAT || !Number.isInteger(envelope.seq)) throw new Error(`not format ${FORMAT}`);
        found.push({ id, seq: envelope.seq, record: envelope.record, blob: (name) => readBlob(join(this.dir, `${id}.${name}`)) });
      } catch (err) {
        warn(`emulator state: skipping ${path}: ${(err as Error).message}`);
      }
    }
    found.sort((a, b) => a.seq - b.seq);
    let restored = 0;
    for (const stored of found) {
      this.seqs.set(stored.id, stored.seq);
      this.lastSeq = Math.max(this.lastSeq, stored.seq);
      try {
        restore(stored);
        restored++;
      } catch (err) {
        warn(`emulator state: skipping ${join(this.dir, `${stored.id}.json`)}: ${(err as Error).message}`);
      }
    }
    return restored;
  }

  /** A blob `restore` cannot do without. */
  static need(blob: Buffer | undefined, name: string): Buffer {
    if (!blob) throw new Error(`its ${name} is missing`);
    return blob;
  }

  /** Forgets every object of this kind, on disk too. */
  wipe(): void {
    for (const name of readdirSync(this.dir)) rmSync(join(this.dir, name), { force: true });
    this.seqs.clear();
    this.lastSeq = 0;
  }
}

function readBlob(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Temp file, then rename: the file at `path` is always a complete version, whenever the process
 * dies. There is no fsync (it about doubled the time to create a 50,000-line batch), so a power cut,
 * unlike a kill, may lose the last writes.
 */
function writeAtomic(path: string, data: Buffer): void {
  const tmp = `${path}${TMP}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** The root of the state: each store opens the kind it keeps; `wipe` forgets them all. */
export class StateDir {
  private readonly kinds: Array<RecordDir<unknown>> = [];

  constructor(readonly root: string) {}

  /** `path` is relative to the root, e.g. `openai/batches`. */
  kind<T>(path: string, blobs: readonly string[] = []): RecordDir<T> {
    const dir = new RecordDir<T>(join(this.root, path), blobs);
    this.kinds.push(dir as RecordDir<unknown>);
    return dir;
  }

  wipe(): void {
    for (const dir of this.kinds) dir.wipe();
  }
}
