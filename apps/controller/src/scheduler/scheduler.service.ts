import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { DataSource, type QueryRunner } from 'typeorm';

import { ClusterEvents } from '../common/cluster-events.js';
import { CONTROLLER_CONFIG, type ControllerConfig } from '../config/controller-config.js';
import { toWireVm } from '../vms/vm.mapper.js';
import { planPass } from './plan-pass.js';
import { applyPlan, readSnapshot, readVms, type Snapshot } from './scheduler.store.js';
import { SerialRunner } from './serial-runner.js';

/** Arbitrary constant naming the advisory lock whose holder is the one replica that schedules. */
export const SCHEDULER_LOCK_ID = 0x6f726373; // "orcs"

/**
 * Runs scheduler passes (health check, restarts, placement) on every committed change and
 * every `schedulerIntervalMs`, on the replica holding the scheduler lock.
 *
 * Leadership is a session-level advisory lock on one connection kept out of the pool, and the
 * whole pass runs on that connection: if it breaks, PostgreSQL drops the lock and this replica's
 * writes fail with it, so two replicas never schedule at once. The others retry every interval.
 */
@Injectable()
export class SchedulerService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('scheduler');
  private readonly runner = new SerialRunner(() => this.pass());
  private subscription: Subscription | null = null;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The connection holding the lock; null while another replica leads. */
  private leader: QueryRunner | null = null;
  /** Set while this service publishes its own writes, which need no further pass. */
  private publishing = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly events: ClusterEvents,
    @Inject(CONTROLLER_CONFIG) private readonly config: ControllerConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.subscription = this.events.events.subscribe(() => {
      if (!this.publishing) this.runner.request();
    });
    this.runner.request();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    this.subscription?.unsubscribe();
    clearTimeout(this.timer);
    await this.runner.stop();
    await this.resign();
  }

  /** One pass; never rejects. */
  private async pass(): Promise<void> {
    if (this.stopped) return;
    let wakeUpAt: Date | null = null;
    try {
      const leader = await this.lead();
      if (leader) wakeUpAt = await this.runPass(leader);
    } catch (error) {
      this.logger.error(
        `scheduling pass failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
      // The connection may be what broke; a healthy replica takes the lock on its next try.
      await this.resign();
    }
    this.wakeUpAt(wakeUpAt);
  }

  private async runPass(leader: QueryRunner): Promise<Date | null> {
    const now = new Date();
    const snapshot = await readSnapshot(leader);
    const plan = planPass({
      ...snapshot,
      now,
      workerOfflineTimeoutMs: this.config.workerOfflineTimeoutMs,
      restartBackoff: this.config.restartBackoff,
    });
    const onlineSince = new Date(now.getTime() - this.config.workerOfflineTimeoutMs);
    const changed = await applyPlan(leader, plan, now, onlineSince);
    if (changed.size > 0) await this.publish(leader, changed, snapshot);
    return plan.nextRestartAt;
  }

  /** After commit: one MODIFIED per VM changed, as it is now. */
  private async publish(leader: QueryRunner, uids: Set<string>, before: Snapshot): Promise<void> {
    const workerBefore = new Map(before.vms.map((vm) => [vm.uid, vm.worker]));
    const vms = (await readVms(leader, uids)).map(toWireVm);
    this.publishing = true;
    try {
      for (const vm of vms) {
        const previousWorker = workerBefore.get(vm.uid);
        this.events.vmChanged({
          type: 'MODIFIED',
          vm,
          ...(previousWorker && previousWorker !== vm.worker ? { previousWorker } : {}),
        });
      }
    } finally {
      this.publishing = false;
    }
  }

  /** The lock's connection, taking the lock if it is free; null when another replica holds it. */
  private async lead(): Promise<QueryRunner | null> {
    if (this.leader && !this.leader.isReleased) return this.leader;
    this.leader = null;
    const runner = this.dataSource.createQueryRunner();
    let locked = false;
    try {
      const rows = (await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [SCHEDULER_LOCK_ID])) as {
        locked: boolean;
      }[];
      locked = rows[0].locked;
    } finally {
      if (!locked) await runner.release();
    }
    if (!locked) return null;
    this.logger.log('this replica schedules VMs now');
    this.leader = runner;
    return runner;
  }

  private async resign(): Promise<void> {
    const leader = this.leader;
    this.leader = null;
    if (!leader || leader.isReleased) return;
    // Unlock before the connection goes back to the pool, where the lock would stay held. If the
    // unlock fails the connection is broken, and the pool discards broken connections.
    await leader.query('SELECT pg_advisory_unlock($1)', [SCHEDULER_LOCK_ID]).catch(() => undefined);
    await leader.release();
  }

  /** Next pass at the interval, or sooner when a restart backoff ends before it. */
  private wakeUpAt(at: Date | null): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const untilRestart = at ? Math.max(0, at.getTime() - Date.now()) : Infinity;
    this.timer = setTimeout(
      () => this.runner.request(),
      Math.min(this.config.schedulerIntervalMs, untilRestart),
    );
  }
}
