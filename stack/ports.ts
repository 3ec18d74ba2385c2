import { portInUse } from './temporal-server.js';

/** A port `npm run dev` binds, what binds it, and the setting that moves it. */
export interface DevPort {
  port: number;
  host?: string;
  what: string;
  variable: string;
}

export function busyPortMessage(p: DevPort): string {
  return `port ${p.port} (${p.what}) is already in use by a server npm run dev did not start: stop it, or set ${p.variable} to another port`;
}

/** Fails on the first busy port, before anything is started: nothing to undo, and the message names the setting. */
export async function checkPorts(ports: readonly DevPort[]): Promise<void> {
  for (const p of ports) {
    if (p.port > 0 && (await portInUse(p.port, p.host))) throw new Error(busyPortMessage(p));
  }
}

/** The same message when a port is taken between the check and the bind. */
export function explainBusyPort(p: DevPort): (err: unknown) => never {
  return (err: unknown) => {
    if ((err as NodeJS.ErrnoException)?.code === 'EADDRINUSE') throw new Error(busyPortMessage(p), { cause: err });
    throw err;
  };
}

/** `host:port` → its parts; undefined when it is not that shape. */
export function parseAddress(address: string | undefined): { host: string; port: number } | undefined {
  const m = /^\[?([^\]]*)\]?:(\d+)$/.exec(address ?? '');
  return m ? { host: m[1]!, port: Number(m[2]) } : undefined;
}
