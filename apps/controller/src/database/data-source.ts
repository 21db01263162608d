import { DataSource } from 'typeorm';

import { ClusterSettingsEntity } from './cluster-settings.entity.js';
import { EventEntity } from './event.entity.js';
import { Initial1764518400000 } from './migrations/1764518400000-Initial.js';
import { ServiceAccountEntity } from './service-account.entity.js';
import { VmEntity } from './vm.entity.js';
import { WorkerEntity } from './worker.entity.js';

export const ENTITIES = [ClusterSettingsEntity, EventEntity, ServiceAccountEntity, VmEntity, WorkerEntity];
export const MIGRATIONS = [Initial1764518400000];

/** Arbitrary constant naming the advisory lock replicas take while migrating. */
export const MIGRATION_LOCK_ID = 0x6f7263; // "orc"

export function createDataSource(url: string): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    synchronize: false,
    migrationsRun: false,
    migrationsTransactionMode: 'each',
    logging: false,
    extra: { max: 20, connectionTimeoutMillis: 10_000 },
  });
}

/**
 * Applies pending migrations under a PostgreSQL advisory lock, so replicas starting together
 * never race: the second one waits, then finds nothing left to do.
 */
export async function migrate(dataSource: DataSource): Promise<void> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    try {
      await dataSource.runMigrations({ transaction: 'each' });
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
    }
  } finally {
    await runner.release();
  }
}
