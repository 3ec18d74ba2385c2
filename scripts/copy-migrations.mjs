// tsc copies only code; the worker and API read their SQL migrations from beside store/migrate.js.
import { cpSync } from 'node:fs';
cpSync('store/migrations', 'dist/store/migrations', { recursive: true });
