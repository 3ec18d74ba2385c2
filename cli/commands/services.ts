import type { Command } from '../context.js';
import { EXIT } from '../exit-codes.js';

/**
 * dev, worker and api run Drover's own entry points in this process. Those modules start their
 * servers when imported and handle their own signals and exit, so these commands only import them.
 */

export const dev: Command = {
  name: 'dev',
  summary: 'run the whole stack locally: Temporal, PostgreSQL, emulator, worker, API on :3000',
  usage: 'drover dev',
  args: { min: 0, max: 0 },
  options: {},
  service: true,
  help: `The same as \`npm run dev\`: a Temporal dev server (UI on :8233), an embedded PostgreSQL
unless DATABASE_URL is set, the provider emulator for every provider without an API key, a
worker, and the API on port 3000. State is kept in .data/. Ctrl-C stops it all.

Example
  drover dev &  drover submit items.jsonl -m gpt-4.1-mini`,
  async run() {
    await import('../../stack/dev.js');
    return EXIT.ok;
  },
};

export const worker: Command = {
  name: 'worker',
  summary: 'run a worker (configured by environment: DATABASE_URL, TEMPORAL_ADDRESS, ...)',
  usage: 'drover worker',
  args: { min: 0, max: 0 },
  options: {},
  service: true,
  help: `Runs workers/main.ts. Configure it with the environment described in the README.

Example
  DATABASE_URL=postgres://... TEMPORAL_ADDRESS=temporal:7233 drover worker`,
  async run() {
    await import('../../workers/main.js');
    return EXIT.ok;
  },
};

export const api: Command = {
  name: 'api',
  summary: 'run the HTTP API (configured by environment: DATABASE_URL, TEMPORAL_ADDRESS, PORT, ...)',
  usage: 'drover api',
  args: { min: 0, max: 0 },
  options: {},
  service: true,
  help: `Runs api/server.ts. Configure it with the environment described in the README.

Example
  DATABASE_URL=postgres://... TEMPORAL_ADDRESS=temporal:7233 PORT=3000 drover api`,
  async run() {
    await import('../../api/server.js');
    return EXIT.ok;
  },
};
