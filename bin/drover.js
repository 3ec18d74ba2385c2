#!/usr/bin/env node
// The CLI is TypeScript run from source: tsx compiles it on load, so there is no build step to forget.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
