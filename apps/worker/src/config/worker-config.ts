import { readFileSync } from 'node:fs';
import { cpus, hostname, platform, totalmem } from 'node:os';
import { execFileSync } from 'node:child_process';

import {
  DEFAULT_CPU,
  DEFAULT_MEMORY_MIB,
  LOGICAL_CORES_RESOURCE,
  MEMORY_MIB_RESOURCE,
  TART_VMS_PER_HOST,
  TART_VMS_RESOURCE,
  parseBootstrapToken,
  parseDuration,
  validateName,
  type Architecture,
  type BootstrapToken,
  type Labels,
  type Resources,
} from '#api';

export type RuntimeKind = 'tart' | 'synthetic';

/** Everything a worker needs, validated once at start; nothing else reads the environment. */
export interface WorkerConfig {
  controllerUrl: string;
  name: string;
  machineId: string;
  serviceAccount: { name: string; token: string } | null;
  runtime: RuntimeKind;
  /** What the worker registers: always `tart` for both runtimes (synthetic stands in for Tart). */
  registeredRuntime: 'tart';
  arch: Architecture;
  resources: Resources;
  labels: Labels;
  defaultCpu: number;
  defaultMemory: number;
  heartbeatIntervalMs: number;
  syncIntervalMs: number;
  /** How long a started VM may take to get an IP address before it fails. */
  ipWaitSeconds: number;
  reconnect: { initialMs: number; maxMs: number };
  tartPath: string;
  logLevels: ('log' | 'error' | 'warn' | 'debug' | 'verbose' | 'fatal')[];
}

export interface WorkerConfigInput {
  /** Else ORCHARD_CONTROLLER_URL. */
  controllerUrl?: string;
  name?: string;
  serviceAccountName?: string;
  serviceAccountToken?: string;
  runtime?: string;
  resources?: string[];
  labels?: string[];
  defaultCpu?: string | number;
  defaultMemory?: string | number;
  heartbeatInterval?: string;
  syncInterval?: string;
  ipWait?: string;
  reconnectInitial?: string;
  reconnectMax?: string;
  machineId?: string;
  quiet?: boolean;
  debug?: boolean;
}

export class WorkerConfigError extends Error {
  override name = 'WorkerConfigError';
}

/** Parses repeated `key=value` flags; values of resources must be non-negative integers. */
export function parseKeyValues(flag: string, pairs: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs.flatMap((p) => p.split(','))) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new WorkerConfigError(`${flag} "${pair}" must look like key=value`);
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

function count(flag: string, value: string | number | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new WorkerConfigError(`${flag} must be a non-negative integer`);
  return n;
}

function duration(flag: string, text: string | undefined, fallbackMs: number): number {
  if (text === undefined || text === '') return fallbackMs;
  const ms = parseDuration(text);
  if (ms === null || ms <= 0) throw new WorkerConfigError(`${flag} "${text}" is not a duration (try 5s, 1m)`);
  return ms;
}

/** IOPlatformUUID on macOS, /etc/machine-id on Linux, else the hostname. */
export function readMachineId(): string {
  try {
    if (platform() === 'darwin') {
      const out = execFileSync('ioreg', ['-rd1', '-c', 'IOPlatformExpertDevice'], { encoding: 'utf8' });
      const match = /"IOPlatformUUID"\s*=\s*"([^"]+)"/.exec(out);
      if (match) return match[1];
    }
    return readFileSync('/etc/machine-id', 'utf8').trim() || hostname();
  } catch {
    return hostname();
  }
}

/** Host resources a worker offers, before --resources overrides. */
export function hostResources(): Resources {
  return {
    // Tart's slots: Apple allows two macOS VMs per host; the synthetic runtime stands in for Tart.
    [TART_VMS_RESOURCE]: TART_VMS_PER_HOST,
    [LOGICAL_CORES_RESOURCE]: cpus().length,
    [MEMORY_MIB_RESOURCE]: Math.floor(totalmem() / (1024 * 1024)),
  };
}

export const WORKER_CONFIG = Symbol('WORKER_CONFIG');

function bootstrapTokenFromEnv(text: string | undefined): BootstrapToken | null {
  if (!text) return null;
  try {
    return parseBootstrapToken(text);
  } catch (error) {
    throw new WorkerConfigError(`ORCHARD_BOOTSTRAP_TOKEN: ${(error as Error).message}`);
  }
}

/**
 * Validates flags and environment into one WorkerConfig. Flags win; the environment fills in:
 * ORCHARD_CONTROLLER_URL, ORCHARD_WORKER_NAME, ORCHARD_WORKER_RUNTIME, ORCHARD_BOOTSTRAP_TOKEN
 * (or ORCHARD_SERVICE_ACCOUNT_NAME + ORCHARD_SERVICE_ACCOUNT_TOKEN), ORCHARD_TART_PATH.
 */
export function resolveWorkerConfig(
  input: WorkerConfigInput,
  env: Record<string, string | undefined>,
): WorkerConfig {
  const controllerUrl = input.controllerUrl ?? env['ORCHARD_CONTROLLER_URL'];
  if (!controllerUrl)
    throw new WorkerConfigError('the controller URL is required (or ORCHARD_CONTROLLER_URL)');
  let url: URL;
  try {
    url = new URL(controllerUrl);
  } catch {
    throw new WorkerConfigError(`controller URL "${controllerUrl}" is not a URL (expected http://host:6120)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new WorkerConfigError(`controller URL must be http:// or https://, not ${url.protocol}//`);
  }
  const runtime = input.runtime ?? env['ORCHARD_WORKER_RUNTIME'] ?? 'tart';
  if (runtime !== 'tart' && runtime !== 'synthetic') {
    throw new WorkerConfigError(`--runtime must be tart or synthetic, not "${runtime}"`);
  }
  let name: string;
  try {
    name = validateName('worker', input.name ?? env['ORCHARD_WORKER_NAME'] ?? hostname());
  } catch (error) {
    throw new WorkerConfigError((error as Error).message);
  }
  const resources: Resources = { ...hostResources() };
  for (const [key, value] of Object.entries(parseKeyValues('--resources', input.resources))) {
    resources[key] = count(`--resources ${key}`, value, 0);
  }
  const fromToken = bootstrapTokenFromEnv(env['ORCHARD_BOOTSTRAP_TOKEN']);
  const saName =
    input.serviceAccountName ?? fromToken?.serviceAccountName ?? env['ORCHARD_SERVICE_ACCOUNT_NAME'];
  const saToken =
    input.serviceAccountToken ?? fromToken?.serviceAccountToken ?? env['ORCHARD_SERVICE_ACCOUNT_TOKEN'];
  return {
    controllerUrl: url.toString().replace(/\/+$/, ''),
    name,
    machineId: input.machineId ?? readMachineId(),
    serviceAccount: saName && saToken ? { name: saName, token: saToken } : null,
    runtime,
    registeredRuntime: 'tart',
    // Tart runs only on Apple Silicon, and synthetic VMs stand in for Tart ones; a runtime
    // that runs on other hosts would report the host's architecture here.
    arch: 'arm64',
    resources,
    labels: parseKeyValues('--labels', input.labels),
    defaultCpu: count('--default-cpu', input.defaultCpu, DEFAULT_CPU),
    defaultMemory: count('--default-memory', input.defaultMemory, DEFAULT_MEMORY_MIB),
    heartbeatIntervalMs: duration('--heartbeat-interval', input.heartbeatInterval, 15_000),
    syncIntervalMs: duration('--sync-interval', input.syncInterval, 5_000),
    ipWaitSeconds: Math.max(1, Math.round(duration('--ip-wait', input.ipWait, 60_000) / 1000)),
    reconnect: {
      initialMs: duration('--reconnect-initial', input.reconnectInitial, 500),
      maxMs: duration('--reconnect-max', input.reconnectMax, 30_000),
    },
    tartPath: env['ORCHARD_TART_PATH'] ?? 'tart',
    logLevels: input.quiet
      ? ['error', 'fatal']
      : input.debug
        ? ['log', 'error', 'warn', 'debug', 'verbose', 'fatal']
        : ['log', 'error', 'warn', 'fatal'],
  };
}

/** The standalone entry's config: flags do not exist there, so the process environment is all. */
export function workerConfigFromEnvironment(): WorkerConfig {
  return resolveWorkerConfig({}, process.env);
}
