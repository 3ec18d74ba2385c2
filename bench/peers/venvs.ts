/**
 * One virtualenv per peer under `.tools/peers/<tool>` (git-ignored), installed from PyPI with
 * the exact versions in `bench/peers/requirements-<tool>.txt`. Two, because batchata 0.4.7 wants
 * rich >= 14 and bespokelabs-curator 0.1.31 wants rich < 14.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type PeerTool = 'batchata' | 'curator';

/** batchata needs Python >= 3.12. `PEERS_PYTHON` names one; else the first on PATH or under pyenv. */
export async function findPython(): Promise<string> {
  const pyenv = join(process.env.PYENV_ROOT ?? join(homedir(), '.pyenv'), 'versions');
  const fromPyenv = existsSync(pyenv)
    ? readdirSync(pyenv)
        .filter((v) => /^3\.\d+\.\d+$/.test(v))
        .sort((a, b) => Number(b.split('.')[1]) - Number(a.split('.')[1]))
        .map((v) => join(pyenv, v, 'bin', 'python3'))
    : [];
  const candidates = [process.env.PEERS_PYTHON, 'python3.13', 'python3.12', 'python3', ...fromPyenv].filter(
    (c): c is string => c !== undefined,
  );
  for (const python of candidates) {
    try {
      const { stdout } = await run(python, ['-c', 'import sys; print(int(sys.version_info >= (3, 12)))']);
      if (stdout.trim() === '1') return python;
    } catch {
      // not installed, or a pyenv shim for a version that is not selected
    }
  }
  throw new Error(`no Python >= 3.12 found (tried ${candidates.join(', ')}); set PEERS_PYTHON`);
}

/** Creates or refreshes the tool's venv when its requirements file changed; returns its python. */
export async function ensureVenv(repoRoot: string, tool: PeerTool, log: (line: string) => void): Promise<string> {
  const dir = join(repoRoot, '.tools', 'peers', tool);
  const python = join(dir, 'bin', 'python');
  const requirements = join(repoRoot, 'bench', 'peers', `requirements-${tool}.txt`);
  const digest = createHash('sha256')
    .update(await readFile(requirements))
    .digest('hex');
  const stamp = join(dir, '.installed-from');
  if (existsSync(python) && (await readFile(stamp, 'utf8').catch(() => '')) === digest) return python;

  log(`installing ${tool} into ${dir} (from ${requirements}; a few minutes the first time)`);
  await rm(dir, { recursive: true, force: true });
  await run(await findPython(), ['-m', 'venv', dir]);
  await run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', requirements], {
    maxBuffer: 64 * 1024 * 1024,
  });
  await writeFile(stamp, digest);
  return python;
}
