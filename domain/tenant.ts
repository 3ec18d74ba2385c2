/** Every row carries a tenant. This one is DROVER_ADMIN_KEY's (and the dev stack's key), and that of rows from before API keys. */
export const DEFAULT_TENANT = 'default';
