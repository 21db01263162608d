import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

import { ClientConfigError } from './errors.js';
import { loadContexts, type Context, type Contexts } from './contexts.js';
import { OrchardClient, type OrchardClientOptions } from './orchard-client.js';

export type Environment = Readonly<Record<string, string | undefined>>;

/** Where a client finds its controller; validated once from the environment. */
export interface ClientConfig {
  /** ORCHARD_HOME, else ~/.orchard (as Orchard's Go CLI). */
  home: string;
  /** <home>/orchard.yml */
  contextsFile: string;
  /** ORCHARD_URL, ORCHARD_SERVICE_ACCOUNT_NAME, ORCHARD_SERVICE_ACCOUNT_TOKEN: each wins over the contexts file. */
  overrides: Partial<Pick<Context, 'url' | 'serviceAccountName' | 'serviceAccountToken'>>;
}

/** Orchard's default when nothing is configured: a controller on this machine. */
export const DEFAULT_CONTROLLER_URL = 'http://127.0.0.1:6120';

const nonEmpty = (value: string | undefined) => (value === undefined || value === '' ? undefined : value);

/** The one place a client reads the environment. */
export function resolveClientConfig(env: Environment, userHome: string = homedir()): ClientConfig {
  const orchardHome = nonEmpty(env['ORCHARD_HOME']);
  const home = orchardHome ? resolve(orchardHome) : join(userHome, '.orchard');
  const overrides: ClientConfig['overrides'] = {};
  const url = nonEmpty(env['ORCHARD_URL']);
  const name = nonEmpty(env['ORCHARD_SERVICE_ACCOUNT_NAME']);
  const token = nonEmpty(env['ORCHARD_SERVICE_ACCOUNT_TOKEN']);
  if (url) overrides.url = url;
  if (name) overrides.serviceAccountName = name;
  if (token) overrides.serviceAccountToken = token;
  return { home, contextsFile: join(home, 'orchard.yml'), overrides };
}

/**
 * The connection to use: the default context, field by field overridden by the environment;
 * with neither, a controller on this machine without credentials.
 */
export function resolveConnection(
  contexts: Contexts,
  overrides: ClientConfig['overrides'],
): Pick<OrchardClientOptions, 'url' | 'serviceAccountName' | 'serviceAccountToken'> {
  const name = contexts.defaultContext;
  const context = name ? contexts.contexts[name] : undefined;
  if (name && !context && !overrides.url) {
    throw new ClientConfigError(
      `the default context "${name}" does not exist: pick one with \`orchard context default\``,
    );
  }
  return {
    url: overrides.url ?? (context?.url || DEFAULT_CONTROLLER_URL),
    serviceAccountName: overrides.serviceAccountName ?? context?.serviceAccountName,
    serviceAccountToken: overrides.serviceAccountToken ?? context?.serviceAccountToken,
  };
}

/** A client for the configured controller (contexts file plus environment). */
export async function openClient(
  config: ClientConfig,
  options: Omit<OrchardClientOptions, 'url' | 'serviceAccountName' | 'serviceAccountToken'> = {},
): Promise<OrchardClient> {
  const connection = resolveConnection(await loadContexts(config.contextsFile), config.overrides);
  return new OrchardClient({ ...options, ...connection });
}
