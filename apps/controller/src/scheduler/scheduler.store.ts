import type { QueryResult, QueryRunner } from 'typeorm';

import type { SchedulerProfile } from '#api';

import { ClusterSettingsEntity } from '../database/cluster-settings.entity.js';
import { VmEntity } from '../database/vm.entity.js';
import { WorkerEntity } from '../database/worker.entity.js';
import type { PassPlan, VmSnapshot } from './plan-pass.js';
import type { SchedulingWorker } from './schedule.js';

export interface Snapshot {
  vms: VmSnapshot[];
  workers: SchedulingWorker[];
  profile: SchedulerProfile;
}

/**
 * Everything a pass decides from. Failed VMs that will never restart are left out: they take
 * no resources and need no health check, and they pile up over a cluster's life.
 */
export async function readSnapshot(runner: QueryRunner): Promise<Snapshot> {
  // Plain rows, not entities: a pass reads every live VM, and at 10,000 VMs building TypeORM
  // entities cost several times the scheduling decision itself.
  const rows = (await runner.query(
    `SELECT uid, name, created_at, cpu, memory, arch, runtime, resources, labels, status,
            status_message, worker, restart_policy, restart_count, restart_not_before
     FROM vms
     WHERE status IN ('pending', 'running') OR restart_policy = 'OnFailure'`,
  )) as SnapshotRow[];
  const vms = rows.map(toVmSnapshot);
  const workers = await runner.manager.find(WorkerEntity);
  const settings = await runner.manager.findOneByOrFail(ClusterSettingsEntity, { id: 1 });
  return { vms, workers, profile: settings.schedulerProfile };
}

/** A row of the snapshot query, as node-postgres returns it (bigint columns as strings). */
interface SnapshotRow {
  uid: string;
  name: string;
  created_at: Date;
  cpu: string | number;
  memory: string | number;
  arch: VmSnapshot['arch'];
  runtime: VmSnapshot['runtime'];
  resources: VmSnapshot['resources'];
  labels: VmSnapshot['labels'];
  status: VmSnapshot['status'];
  status_message: string;
  worker: string;
  restart_policy: VmSnapshot['restartPolicy'];
  restart_count: number;
  restart_not_before: Date | null;
}

function toVmSnapshot(row: SnapshotRow): VmSnapshot {
  return {
    uid: row.uid,
    name: row.name,
    createdAt: row.created_at,
    cpu: Number(row.cpu),
    memory: Number(row.memory),
    arch: row.arch,
    runtime: row.runtime,
    resources: row.resources,
    labels: row.labels,
    status: row.status,
    statusMessage: row.status_message,
    worker: row.worker,
    restartPolicy: row.restart_policy,
    restartCount: row.restart_count,
    restartNotBefore: row.restart_not_before,
  };
}

/**
 * Applies a plan in one transaction and returns the uids of the VMs whose wire state changed.
 * Each statement re-checks, on the row as it is now, the condition the plan was made under, so
 * a change committed since the snapshot (a VM deleted or reported, a worker back online) wins.
 */
export async function applyPlan(
  runner: QueryRunner,
  plan: PassPlan,
  now: Date,
  onlineSince: Date,
): Promise<Set<string>> {
  const changed = new Set<string>();
  const run = async (sql: string, parameters: unknown[]): Promise<void> => {
    const result = (await runner.query(sql, parameters, true)) as QueryResult<{ uid: string }>;
    for (const row of result.records) changed.add(row.uid);
  };

  await runner.startTransaction();
  try {
    if (plan.failures.length > 0) {
      // Still placed there, not failed already, and the worker still gone or silent.
      await run(
        `UPDATE vms v SET status = 'failed', status_message = p.message
         FROM unnest($1::uuid[], $2::text[], $3::text[]) AS p(uid, worker, message)
         WHERE v.uid = p.uid AND v.worker = p.worker AND v.status <> 'failed'
           AND NOT EXISTS (SELECT 1 FROM workers w WHERE w.name = p.worker AND w.last_seen >= $4)
         RETURNING v.uid`,
        [
          plan.failures.map((f) => f.uid),
          plan.failures.map((f) => f.worker),
          plan.failures.map((f) => f.message),
          onlineSince,
        ],
      );
    }
    const backoffs = plan.restartsNotBefore.filter((r) => r.at !== null);
    if (backoffs.length > 0) {
      // Not on the wire: nothing to publish.
      await runner.query(
        `UPDATE vms v SET restart_not_before = p.at
         FROM unnest($1::uuid[], $2::timestamptz[]) AS p(uid, at)
         WHERE v.uid = p.uid AND v.status = 'failed' AND v.restart_not_before IS NULL`,
        [backoffs.map((r) => r.uid), backoffs.map((r) => r.at)],
      );
    }
    const stale = plan.restartsNotBefore.filter((r) => r.at === null).map((r) => r.uid);
    if (stale.length > 0) {
      await runner.query(
        `UPDATE vms SET restart_not_before = NULL WHERE uid = ANY($1::uuid[]) AND status <> 'failed'`,
        [stale],
      );
    }
    if (plan.restarts.length > 0) {
      // A fresh start: restart_count + 1 gives the VM a new localName, so the new worker never
      // mistakes it for what the old one left behind.
      await run(
        `UPDATE vms v SET status = 'pending', worker = '', status_message = '', conditions = '[]',
           restart_count = v.restart_count + 1, restarted_at = $3, restart_not_before = NULL,
           scheduled_at = NULL, started_at = NULL, assigned_cpu = 0, assigned_memory = 0
         FROM unnest($1::uuid[], $2::int[]) AS p(uid, restart_count)
         WHERE v.uid = p.uid AND v.status = 'failed' AND v.restart_policy = 'OnFailure'
           AND v.restart_count = p.restart_count AND v.restart_not_before <= $3
         RETURNING v.uid`,
        [plan.restarts.map((r) => r.uid), plan.restarts.map((r) => r.restartCount), now],
      );
    }
    if (plan.placements.length > 0) {
      await run(
        `UPDATE vms v SET worker = p.worker, scheduled_at = $5, assigned_cpu = p.cpu,
           assigned_memory = p.memory, status_message = ''
         FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::bigint[]) AS p(uid, worker, cpu, memory)
         WHERE v.uid = p.uid AND v.status = 'pending' AND v.worker = ''
           AND EXISTS (SELECT 1 FROM workers w WHERE w.name = p.worker AND NOT w.scheduling_paused)
         RETURNING v.uid`,
        [
          plan.placements.map((p) => p.uid),
          plan.placements.map((p) => p.worker),
          plan.placements.map((p) => p.assignedCpu),
          plan.placements.map((p) => p.assignedMemory),
          now,
        ],
      );
    }
    if (plan.pendingReasons.length > 0) {
      await run(
        `UPDATE vms v SET status_message = p.message
         FROM unnest($1::uuid[], $2::text[]) AS p(uid, message)
         WHERE v.uid = p.uid AND v.status = 'pending' AND v.worker = '' AND v.status_message <> p.message
         RETURNING v.uid`,
        [plan.pendingReasons.map((r) => r.uid), plan.pendingReasons.map((r) => r.message)],
      );
    }
    await runner.commitTransaction();
  } catch (error) {
    if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
    throw error;
  }
  return changed;
}

/** The VMs as they are after the pass, for the change feed. */
export async function readVms(runner: QueryRunner, uids: Iterable<string>): Promise<VmEntity[]> {
  return runner.manager
    .createQueryBuilder(VmEntity, 'vm')
    .where('vm.uid = ANY(:uids)', { uids: [...uids] })
    .orderBy('vm.createdAt')
    .addOrderBy('vm.name')
    .getMany();
}
