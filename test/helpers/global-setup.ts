import { register } from 'tsx/esm/api';

// `--test-global-setup` loads this module without the `--import tsx` hooks, so the project's
// `.js` specifiers (which name `.ts` files) would not resolve: register tsx, then load the setup.
register();
const run = await import('./shared-run.js');

export const globalSetup = run.startSharedRun;
export const globalTeardown = run.stopSharedRun;
