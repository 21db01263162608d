import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createController, type RunningController } from '../../apps/controller/src/bootstrap.js';
import {
  resolveControllerConfig,
  type ControllerConfigInput,
} from '../../apps/controller/src/config/controller-config.js';
import { createTestDatabase } from './test-database.js';

export const ADMIN_NAME = 'bootstrap-admin';
export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export interface Credentials {
  name: string;
  token: string;
}

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface TestController {
  controller: RunningController;
  url: string;
  databaseUrl: string;
  admin: Credentials;
  /** Calls the API as `as` (default: the bootstrap admin; null: no credentials). */
  request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    as?: Credentials | null,
  ): Promise<ApiResponse<T>>;
  close(): Promise<void>;
}

export function basicAuth(credentials: Credentials): string {
  return 'Basic ' + Buffer.from(`${credentials.name}:${credentials.token}`).toString('base64');
}

/**
 * A controller in this process on 127.0.0.1:0 with a fresh database of its own; resolves once
 * it is listening. `bootstrap-admin` has ADMIN_TOKEN.
 */
export async function startTestController(overrides: ControllerConfigInput = {}): Promise<TestController> {
  const databaseUrl = overrides.databaseUrl ?? (await createTestDatabase());
  const config = resolveControllerConfig(
    {
      listen: '127.0.0.1:0',
      dataDir: await mkdtemp(join(tmpdir(), 'orchard-test-controller-')),
      databaseUrl,
      bootstrapAdminToken: ADMIN_TOKEN,
      quiet: true,
      ...overrides,
    },
    {},
  );
  const controller = await createController(config);
  const admin = { name: ADMIN_NAME, token: ADMIN_TOKEN };
  return {
    controller,
    url: controller.url,
    databaseUrl,
    admin,
    async request<T>(method: string, path: string, body?: unknown, as: Credentials | null = admin) {
      const headers: Record<string, string> = {};
      if (as) headers['authorization'] = basicAuth(as);
      if (body !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(controller.url + path, {
        method,
        headers,
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        // Not JSON (e.g. the Swagger UI page): callers read `text`.
      }
      return { status: response.status, headers: response.headers, body: parsed as T, text };
    },
    close: () => controller.close(),
  };
}
