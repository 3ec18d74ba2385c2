/** Everything a person needs once `npm run dev` is up, gathered in one place. */
export interface DevAddresses {
  api: string;
  temporal: string;
  temporalUi: string | null;
  emulator?: { url: string; providers: string[] };
  metrics: string[];
  database: string;
  /** The embedded PostgreSQL's data directory; absent when DATABASE_URL names a server. */
  databaseDir?: string;
  dataDir: string;
  /** The admin key's file, or undefined when DROVER_ADMIN_KEY came from the environment. */
  adminKeyFile?: string;
  codecEndpoint: string;
}

/** A database URL fit to print: its password, if any, masked. */
export function printableDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable DATABASE_URL)';
  }
}

/** The start-up banner: one line per address, aligned, for a terminal. */
export function devBanner(a: DevAddresses): string[] {
  const rows: Array<[string, string]> = [
    ['API', a.api],
    ['API reference', `${a.api}/docs`],
    ['Temporal', a.temporal],
    ['Temporal UI', a.temporalUi ?? '(none: the downloaded dev server runs without it)'],
  ];
  if (a.emulator) rows.push(['emulator', `${a.emulator.url} for ${a.emulator.providers.join(', ')} (synthetic outputs)`]);
  for (const m of a.metrics) rows.push(['metrics', m]);
  rows.push([
    'database',
    `${printableDatabaseUrl(a.database)}${a.databaseDir ? ` (embedded PostgreSQL, data in ${a.databaseDir})` : ' (DATABASE_URL)'}`,
  ]);
  rows.push(['data', `${a.dataDir} (Temporal, emulator and keys; delete it to start afresh)`]);
  rows.push([
    'admin key',
    a.adminKeyFile
      ? `${a.adminKeyFile} (the CLI reads it; curl: -H "Authorization: Bearer $(cat ${a.adminKeyFile})")`
      : 'DROVER_ADMIN_KEY, from the environment',
  ]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return [
    'Drover is up',
    ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
    `  Encrypted payloads show in the Temporal UI once you open ${a.codecEndpoint}, enter the admin key, and turn on "Include cross-origin credentials" in the UI's codec settings.`,
    '  Ctrl-C stops it all.',
  ];
}
