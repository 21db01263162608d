import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

import { parseDuration } from '#api';

/** Everything the controller needs to run, validated once at start; nothing else reads the environment. */
export interface ControllerConfig {
  listen: { host: string; port: number };
  dataDir: string;
  /** null: start the embedded PostgreSQL in `<dataDir>/postgres`. */
  databaseUrl: string | null;
  /** Prefix in front of `/v1` (Orchard's --api-prefix), '' or '/something'. */
  apiPrefix: string;
  workerOfflineTimeoutMs: number;
  schedulerIntervalMs: number;
  /** How often the controller pings each WebSocket it holds (tunnels), so idle ones survive proxies. */
  pingIntervalMs: number;
  /** false only in `orchard dev` (Orchard's dev mode has no auth either). */
  authEnabled: boolean;
  /** When set, `bootstrap-admin` gets this token at every start. */
  bootstrapAdminToken: string | null;
  /** Restart backoff for OnFailure VMs: first delay, doubling up to the cap. */
  restartBackoff: { initialMs: number; maxMs: number };
  version: string;
  commit: string;
  logLevels: ('log' | 'error' | 'warn' | 'debug' | 'verbose' | 'fatal')[];
}

/** What `controller run` flags (and tests) may say; strings as typed by a person. */
export interface ControllerConfigInput {
  listen?: string;
  dataDir?: string;
  databaseUrl?: string;
  apiPrefix?: string;
  workerOfflineTimeout?: string;
  schedulerInterval?: string;
  pingInterval?: string;
  authEnabled?: boolean;
  bootstrapAdminToken?: string;
  restartBackoffInitial?: string;
  restartBackoffMax?: string;
  quiet?: boolean;
  debug?: boolean;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const DEFAULT_PORT = 6120;
export const VERSION = '0.1.0';

/** Parses "host:port", ":port" (all interfaces) or "port". */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*))?:?(\d+)$/.exec(text.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`--listen "${text}" is not an address: use HOST:PORT or :PORT`);
  }
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}

function duration(flag: string, text: string | undefined, fallbackMs: number): number {
  if (text === undefined || text === '') return fallbackMs;
  const ms = parseDuration(text);
  if (ms === null || ms <= 0) throw new ConfigError(`${flag} "${text}" is not a duration (try 30s, 3m, 1h)`);
  return ms;
}

function databaseUrl(text: string | undefined): string | null {
  if (!text) return null;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError('--database-url is not a URL (expected postgres://user:password@host:5432/db)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(`--database-url must be a postgres:// URL, not ${url.protocol}//`);
  }
  return text;
}

function apiPrefix(text: string | undefined): string {
  if (!text || text === '/') return '';
  const trimmed = '/' + text.replace(/^\/+|\/+$/g, '');
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(trimmed))
    throw new ConfigError(`--api-prefix "${text}" is not a URL path`);
  return trimmed;
}

/**
 * Validates flags and environment into one typed config. Flags win over the environment:
 * ORCHARD_LISTEN, DATABASE_URL, ORCHARD_BOOTSTRAP_ADMIN_TOKEN, ORCHARD_DATA_DIR, ORCHARD_COMMIT
 * are read here and only here.
 */
export function resolveControllerConfig(
  input: ControllerConfigInput,
  env: Record<string, string | undefined>,
): ControllerConfig {
  const dataDirText = input.dataDir ?? env['ORCHARD_DATA_DIR'] ?? join(homedir(), '.orchard', 'controller');
  const token = input.bootstrapAdminToken ?? env['ORCHARD_BOOTSTRAP_ADMIN_TOKEN'];
  if (token !== undefined && token !== '' && token.length < 16) {
    throw new ConfigError('ORCHARD_BOOTSTRAP_ADMIN_TOKEN must be at least 16 characters');
  }
  const initialMs = duration('--restart-backoff', input.restartBackoffInitial, 5_000);
  return {
    listen: parseListen(input.listen ?? env['ORCHARD_LISTEN'] ?? `:${DEFAULT_PORT}`),
    dataDir: isAbsolute(dataDirText) ? dataDirText : resolve(dataDirText),
    databaseUrl: databaseUrl(input.databaseUrl ?? env['DATABASE_URL']),
    apiPrefix: apiPrefix(input.apiPrefix),
    workerOfflineTimeoutMs: duration('--worker-offline-timeout', input.workerOfflineTimeout, 180_000),
    schedulerIntervalMs: duration('--scheduler-interval', input.schedulerInterval, 5_000),
    pingIntervalMs: duration('--ping-interval', input.pingInterval, 30_000),
    authEnabled: input.authEnabled ?? true,
    bootstrapAdminToken: token ? token : null,
    restartBackoff: {
      initialMs,
      maxMs: Math.max(initialMs, duration('--restart-backoff-max', input.restartBackoffMax, 300_000)),
    },
    version: VERSION,
    commit: env['ORCHARD_COMMIT'] ?? 'unknown',
    logLevels: input.quiet
      ? ['error', 'fatal']
      : input.debug
        ? ['log', 'error', 'warn', 'debug', 'verbose', 'fatal']
        : ['log', 'error', 'warn', 'fatal'],
  };
}

export const CONTROLLER_CONFIG = Symbol('CONTROLLER_CONFIG');

/** The standalone entry's config: flags do not exist there, so the process environment is all. */
export function controllerConfigFromEnvironment(): ControllerConfig {
  return resolveControllerConfig({}, process.env);
}
