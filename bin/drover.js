#!/usr/bin/env node
// First the Node version check (plain CJS, so an old Node still prints its one line), then the
// CLI, TypeScript run from source: tsx compiles it on load, so there is no build step to forget.
import '../scripts/check-node.cjs';

const { register } = await import('tsx/esm/api');
register();
await import('../cli/main.ts');
