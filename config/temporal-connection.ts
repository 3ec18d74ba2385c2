import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import type { Logger } from 'pino';
import { z } from 'zod';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { activeTracing } from '../tracing/tracing.js';
import { EncryptionCodec, parseEncryptionKeys, type EncryptionKey } from './encryption.js';

const Optional = z.preprocess((v) => (v === '' ? undefined : v), z.string().optional());

/**
 * How Drover reaches Temporal beyond address and namespace, named as `@temporalio/envconfig`
 * (and the `temporal` CLI) name them, so a Temporal Cloud setup works unchanged. Declared here so
 * that they survive config parsing and are listed in one place.
 */
export const TemporalConnectionEnv = {
  /** Temporal Cloud API key: sent as a bearer token, and turns TLS on. */
  TEMPORAL_API_KEY: Optional,
  /** `true` for TLS with the system's roots; implied by a client certificate or an API key. */
  TEMPORAL_TLS: Optional,
  TEMPORAL_TLS_CLIENT_CERT_PATH: Optional,
  TEMPORAL_TLS_CLIENT_CERT_DATA: Optional,
  TEMPORAL_TLS_CLIENT_KEY_PATH: Optional,
  TEMPORAL_TLS_CLIENT_KEY_DATA: Optional,
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: Optional,
  TEMPORAL_TLS_SERVER_CA_CERT_DATA: Optional,
  TEMPORAL_TLS_SERVER_NAME: Optional,
  /** A TOML profile file (envconfig format); read only when this or TEMPORAL_PROFILE is set. */
  TEMPORAL_CONFIG_FILE: Optional,
  TEMPORAL_PROFILE: Optional,
  /** `id:base64key[,…]`: AES-256-GCM keys for every payload; the first encrypts (config/encryption.ts). */
  DROVER_ENCRYPTION_KEYS: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z
      .string()
      .optional()
      .transform((spec, ctx) => {
        if (spec === undefined) return undefined;
        try {
          return parseEncryptionKeys(spec);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
          return z.NEVER;
        }
      }),
  ),
};

export interface TemporalSettings {
  TEMPORAL_ADDRESS: string;
  TEMPORAL_NAMESPACE: string;
  TEMPORAL_API_KEY?: string | undefined;
  TEMPORAL_TLS?: string | undefined;
  TEMPORAL_TLS_CLIENT_CERT_PATH?: string | undefined;
  TEMPORAL_TLS_CLIENT_CERT_DATA?: string | undefined;
  TEMPORAL_TLS_CLIENT_KEY_PATH?: string | undefined;
  TEMPORAL_TLS_CLIENT_KEY_DATA?: string | undefined;
  TEMPORAL_TLS_SERVER_CA_CERT_PATH?: string | undefined;
  TEMPORAL_TLS_SERVER_CA_CERT_DATA?: string | undefined;
  TEMPORAL_TLS_SERVER_NAME?: string | undefined;
  TEMPORAL_CONFIG_FILE?: string | undefined;
  TEMPORAL_PROFILE?: string | undefined;
  DROVER_ENCRYPTION_KEYS?: EncryptionKey[] | undefined;
}

/**
 * The options both `Connection.connect` and `NativeConnection.connect` take, built by
 * `@temporalio/envconfig` from Drover's parsed settings. `TEMPORAL_ADDRESS` and
 * `TEMPORAL_NAMESPACE` (with their defaults) always win over a profile's: the namespace is used
 * in several places and must be the same in all. A profile file is read only when named
 * (TEMPORAL_CONFIG_FILE or TEMPORAL_PROFILE), so a developer's CLI profile for Temporal Cloud
 * cannot send the local stack to the cloud.
 */
export function temporalConnectionOptions(env: TemporalSettings): NativeConnectionOptions {
  const vars: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (name.startsWith('TEMPORAL_') && typeof value === 'string') vars[name] = value;
  const { connectionOptions } = loadClientConnectConfig({
    overrideEnvVars: vars,
    disableFile: !env.TEMPORAL_CONFIG_FILE && !env.TEMPORAL_PROFILE,
  });
  const options: NativeConnectionOptions = { ...connectionOptions, address: env.TEMPORAL_ADDRESS };
  // envconfig leaves undefined keys in; the connections treat a present-but-undefined key as set.
  for (const k of Object.keys(options) as Array<keyof NativeConnectionOptions>) if (options[k] === undefined) delete options[k];
  return options;
}

/** The same for the client's `Connection` (the shapes agree but for `apiKey`'s function form, which we never use). */
export function clientConnectionOptions(env: TemporalSettings): ConnectionOptions {
  return temporalConnectionOptions(env) as ConnectionOptions;
}

/**
 * The data converter of every Temporal client and worker Drover makes: AES-256-GCM on every
 * payload when DROVER_ENCRYPTION_KEYS is set, plain payloads otherwise (said once, as a warning,
 * when `logger` is given).
 */
export function droverDataConverter(env: Pick<TemporalSettings, 'DROVER_ENCRYPTION_KEYS'>, logger?: Logger): DataConverter {
  const keys = env.DROVER_ENCRYPTION_KEYS;
  if (keys?.length) return { payloadCodecs: [new EncryptionCodec(keys)] };
  if (logger && !warned) {
    warned = true;
    logger.warn(
      'DROVER_ENCRYPTION_KEYS is not set: workflow inputs, results and activity payloads are stored in Temporal unencrypted (docs/security.md)',
    );
  }
  return {};
}
let warned = false;

/**
 * A client on its own connection, with Drover's connection options and the given data converter;
 * when tracing is on, workflow starts, signals and queries carry the caller's trace.
 */
export async function connectClient(
  env: TemporalSettings,
  dataConverter: DataConverter,
): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect(clientConnectionOptions(env));
  const interceptors = activeTracing() ? { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } : undefined;
  const client = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE, dataConverter, ...(interceptors ? { interceptors } : {}) });
  return { client, connection };
}
