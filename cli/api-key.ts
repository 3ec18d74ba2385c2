import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Which key the CLI sends: --api-key, else DROVER_API_KEY, else, when the API is on this
 * machine, the admin key `npm run dev` keeps in its data dir (.data/admin-key), so a local stack
 * needs no setup. A remote API never gets the local key.
 */
export function resolveApiKey(flag: string | undefined, env: NodeJS.ProcessEnv, url: URL): string | undefined {
  if (flag) return flag;
  if (env.DROVER_API_KEY) return env.DROVER_API_KEY;
  if (!isLoopback(url.hostname)) return undefined;
  for (const file of devKeyFiles(env)) {
    try {
      const key = readFileSync(file, 'utf8').trim();
      if (key) return key;
    } catch {
      // not here; try the next
    }
  }
  return undefined;
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** DROVER_DATA_DIR, else .data in the working directory, else .data of this checkout (from source or dist/). */
function devKeyFiles(env: NodeJS.ProcessEnv): string[] {
  if (env.DROVER_DATA_DIR) return [join(env.DROVER_DATA_DIR, 'admin-key')];
  return [
    join(process.cwd(), '.data', 'admin-key'),
    ...['../.data/admin-key', '../../.data/admin-key'].map((rel) => fileURLToPath(new URL(rel, import.meta.url))),
  ];
}
