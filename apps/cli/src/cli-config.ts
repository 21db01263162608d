import type { Provider } from '@nestjs/common';

import { resolveClientConfig, type Environment } from '#client';

import { VERSION } from '../../controller/src/config/controller-config.js';

export const CLIENT_CONFIG = Symbol('CLIENT_CONFIG');
export const PROCESS_ENV = Symbol('PROCESS_ENV');

/** The CLI and the controller it can run are one release. */
export const CLI_VERSION = VERSION;
export const USER_AGENT = `orchard-ts-cli/${CLI_VERSION}`;

/**
 * The composition root's one look at the environment: it is handed, as a value, to the
 * config functions that validate it (the client's here, the controller's in `controller run`).
 */
export const configProviders: Provider[] = [
  { provide: PROCESS_ENV, useValue: process.env satisfies Environment },
  {
    provide: CLIENT_CONFIG,
    inject: [PROCESS_ENV],
    useFactory: (env: Environment) => resolveClientConfig(env),
  },
];
