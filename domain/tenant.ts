/** Every row carries a tenant; until API keys arrive, all requests belong to this one. */
export const DEFAULT_TENANT = 'default';
