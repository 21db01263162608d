import { randomBytes } from 'node:crypto';

import pg from 'pg';

/** Creates an empty database in the run's PostgreSQL and returns its URL. */
export async function createTestDatabase(): Promise<string> {
  const serverUrl = process.env['ORCHARD_TEST_DATABASE_URL'];
  if (!serverUrl)
    throw new Error('ORCHARD_TEST_DATABASE_URL is not set: run the tests through jest (npm test)');
  const name = `test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
