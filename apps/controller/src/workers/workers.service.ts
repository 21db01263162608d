import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';

import {
  conflict,
  formatTime,
  notFound,
  type Worker,
  type WorkerRegistration,
  type WorkerUpdate,
} from '#api';

import { ClusterEvents } from '../common/cluster-events.js';
import { CONTROLLER_CONFIG, type ControllerConfig } from '../config/controller-config.js';
import { WorkerEntity } from '../database/worker.entity.js';

export function toWireWorker(entity: WorkerEntity): Worker {
  return {
    name: entity.name,
    machine_id: entity.machineId,
    last_seen: formatTime(entity.lastSeen),
    scheduling_paused: entity.schedulingPaused,
    resources: entity.resources,
    labels: entity.labels,
    defaultCPU: entity.defaultCpu,
    defaultMemory: entity.defaultMemory,
    arch: entity.arch,
    runtime: entity.runtime,
    createdAt: formatTime(entity.createdAt),
  };
}

@Injectable()
export class WorkersService {
  private readonly repository: Repository<WorkerEntity>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly events: ClusterEvents,
    @Inject(CONTROLLER_CONFIG) private readonly config: ControllerConfig,
  ) {
    this.repository = dataSource.getRepository(WorkerEntity);
  }

  /**
   * A worker (re-)registers. The same name from another machine is refused (409), so two Macs
   * misconfigured with one name cannot steal each other's VMs. Re-registering keeps the pause flag.
   */
  async register(registration: WorkerRegistration): Promise<Worker> {
    const saved = await this.dataSource.transaction(async (manager) => {
      const repository = manager.getRepository(WorkerEntity);
      const existing = await repository.findOne({
        where: { name: registration.name },
        lock: { mode: 'pessimistic_write' },
      });
      if (existing && existing.machineId !== registration.machineId) {
        throw conflict(
          `worker "${registration.name}" is already registered from another machine (machine_id ${existing.machineId})`,
        );
      }
      const values = {
        machineId: registration.machineId,
        lastSeen: new Date(),
        resources: registration.resources,
        labels: registration.labels,
        defaultCpu: registration.defaultCpu,
        defaultMemory: registration.defaultMemory,
        arch: registration.arch,
        runtime: registration.runtime,
      };
      if (existing) {
        await repository.update({ name: registration.name }, values);
      } else {
        // ON CONFLICT: two registrations racing for a new name; the loser is told on its retry.
        await repository
          .createQueryBuilder()
          .insert()
          .values({ name: registration.name, schedulingPaused: registration.schedulingPaused, ...values })
          .orIgnore()
          .execute();
      }
      return repository.findOneByOrFail({ name: registration.name });
    });
    if (saved.machineId !== registration.machineId) {
      throw conflict(`worker "${registration.name}" is already registered from another machine`);
    }
    this.events.workerChanged(saved.name);
    return toWireWorker(saved);
  }

  async list(): Promise<Worker[]> {
    return (await this.repository.find({ order: { name: 'ASC' } })).map(toWireWorker);
  }

  async get(name: string): Promise<Worker> {
    return toWireWorker(await this.find(name));
  }

  /** Pause/resume, heartbeat (any last_seen means "now", by the controller's clock), capacity. */
  async update(name: string, update: WorkerUpdate, machineId?: string): Promise<Worker> {
    const worker = await this.find(name);
    if (machineId && machineId !== worker.machineId) {
      throw conflict(`worker "${name}" is registered from another machine (machine_id ${worker.machineId})`);
    }
    const changes: Partial<WorkerEntity> = {};
    if (update.schedulingPaused !== undefined) changes.schedulingPaused = update.schedulingPaused;
    if (update.lastSeen) changes.lastSeen = new Date();
    if (update.resources) changes.resources = update.resources;
    if (update.labels) changes.labels = update.labels;
    if (update.defaultCpu !== undefined) changes.defaultCpu = update.defaultCpu;
    if (update.defaultMemory !== undefined) changes.defaultMemory = update.defaultMemory;
    if (Object.keys(changes).length > 0) {
      await this.repository.update({ name }, changes);
    }
    const saved = await this.find(name);
    // A heartbeat alone changes nothing the scheduler sees, unless the worker was offline: then
    // it can take work again at once. Every other change may matter. (Publishing every heartbeat
    // made the scheduler run a full pass per heartbeat of every worker.)
    const wasOffline = Date.now() - worker.lastSeen.getTime() > this.config.workerOfflineTimeoutMs;
    const onlyHeartbeat = Object.keys(changes).every((key) => key === 'lastSeen');
    if (!onlyHeartbeat || wasOffline) this.events.workerChanged(name);
    return toWireWorker(saved);
  }

  async delete(name: string): Promise<void> {
    const result = await this.repository.delete({ name });
    if (!result.affected) throw notFound(`worker "${name}" not found`);
    this.events.workerChanged(name, true);
  }

  private async find(name: string): Promise<WorkerEntity> {
    const worker = await this.repository.findOneBy({ name });
    if (!worker) throw notFound(`worker "${name}" not found`);
    return worker;
  }
}
