import { randomUUID } from 'node:crypto';

import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, type Repository } from 'typeorm';

import {
  conflict,
  hostDirAllowed,
  invalid,
  notFound,
  type VM,
  type VmSpec,
  type VmSpecUpdate,
  type VmStateReport,
} from '#api';

import { ClusterSettingsService } from '../cluster-settings/cluster-settings.service.js';
import { ClusterEvents, type VmChange } from '../common/cluster-events.js';
import { isUniqueViolation } from '../common/pg-errors.js';
import { VmEntity } from '../database/vm.entity.js';
import { toWireVm } from './vm.mapper.js';

/** Where a VM is and how it is doing: what opening a tunnel to it needs. */
export type VmPlacement = Pick<VM, 'uid' | 'status' | 'status_message' | 'worker'>;

/** `?filter=worker=NAME`, the one filter Orchard's v1 API knows. */
export interface VmFilter {
  worker?: string;
}

export function parseVmFilter(filter: string | undefined): VmFilter {
  if (filter === undefined || filter === '') return {};
  const eq = filter.indexOf('=');
  const path = eq < 0 ? filter : filter.slice(0, eq);
  if (eq < 0 || path !== 'worker') {
    throw invalid(`unsupported filter "${filter}": the only filter is worker=NAME`);
  }
  return { worker: filter.slice(eq + 1) };
}

const sameList = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

@Injectable()
export class VmsService {
  private readonly repository: Repository<VmEntity>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly settings: ClusterSettingsService,
    private readonly events: ClusterEvents,
  ) {
    this.repository = dataSource.getRepository(VmEntity);
  }

  async create(spec: VmSpec): Promise<VM> {
    if (spec.hostDirs.length > 0) {
      const { hostDirPolicies } = await this.settings.get();
      for (const hostDir of spec.hostDirs) {
        if (!hostDirAllowed(hostDir, hostDirPolicies)) {
          throw invalid(
            `host directory "${hostDir.path}"${hostDir.ro ? '' : ' (read-write)'} is not allowed by any cluster host-dir policy`,
          );
        }
      }
    }
    const entity = this.repository.create({
      uid: randomUUID(),
      name: spec.name,
      image: spec.image,
      imagePullPolicy: spec.imagePullPolicy,
      cpu: spec.cpu,
      memory: spec.memory,
      diskSize: spec.diskSize,
      os: spec.os,
      arch: spec.arch,
      runtime: spec.runtime,
      netBridged: spec.netBridged,
      headless: spec.headless,
      nested: spec.nested,
      netSoftnet: spec.netSoftnet,
      netSoftnetAllow: spec.netSoftnetAllow,
      netSoftnetBlock: spec.netSoftnetBlock,
      suspendable: spec.suspendable,
      powerState: spec.powerState,
      username: spec.username,
      password: spec.password,
      startupScript: spec.startupScript,
      restartPolicy: spec.restartPolicy,
      restartedAt: null,
      restartCount: 0,
      randomSerial: spec.randomSerial,
      resources: spec.resources,
      labels: spec.labels,
      hostDirs: spec.hostDirs,
      imageFqn: '',
      status: 'pending',
      statusMessage: '',
      worker: '',
      assignedCpu: 0,
      assignedMemory: 0,
      conditions: [],
      generation: 0,
      observedGeneration: 0,
      restartNotBefore: null,
      scheduledAt: null,
      startedAt: null,
    });
    try {
      await this.repository.insert(entity);
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`VM "${spec.name}" already exists`);
      throw error;
    }
    const vm = toWireVm(await this.repository.findOneByOrFail({ uid: entity.uid }));
    this.events.vmChanged({ type: 'ADDED', vm });
    return vm;
  }

  async list(filter: VmFilter = {}): Promise<VM[]> {
    const where = filter.worker !== undefined ? { worker: filter.worker } : {};
    const vms = await this.repository.find({ where, order: { createdAt: 'ASC', name: 'ASC' } });
    return vms.map(toWireVm);
  }

  async get(name: string): Promise<VM> {
    return toWireVm(await this.find(this.repository.manager, name));
  }

  /**
   * Where the VM runs, or null: the four columns a tunnel needs, without loading and mapping the
   * whole row (every port-forwarded connection asks, so this is on the hot path of opening one).
   */
  async placementOf(name: string): Promise<VmPlacement | null> {
    const rows = await this.repository.manager.query<VmPlacement[]>(
      'SELECT uid, status, status_message, worker FROM vms WHERE name = $1',
      [name],
    );
    return rows[0] ?? null;
  }

  /** Returns the VM or null; for the watch, which starts before the VM may exist. */
  async findByName(name: string): Promise<VM | null> {
    const entity = await this.repository.findOneBy({ name });
    return entity ? toWireVm(entity) : null;
  }

  /** Applies the spec fields that may change; `generation` goes up only when something did. */
  async update(name: string, update: VmSpecUpdate): Promise<VM> {
    return this.mutate(name, undefined, (vm) => {
      let changed = false;
      if (update.netSoftnet !== undefined && update.netSoftnet !== vm.netSoftnet) {
        vm.netSoftnet = update.netSoftnet;
        changed = true;
      }
      if (update.netSoftnetAllow && !sameList(update.netSoftnetAllow, vm.netSoftnetAllow)) {
        vm.netSoftnetAllow = update.netSoftnetAllow;
        changed = true;
      }
      if (update.netSoftnetBlock && !sameList(update.netSoftnetBlock, vm.netSoftnetBlock)) {
        vm.netSoftnetBlock = update.netSoftnetBlock;
        changed = true;
      }
      if (update.suspendable !== undefined && update.suspendable !== vm.suspendable) {
        vm.suspendable = update.suspendable;
        changed = true;
      }
      if (update.powerState !== undefined && update.powerState !== vm.powerState) {
        vm.powerState = update.powerState;
        changed = true;
      }
      if (changed) vm.generation += 1;
      return changed;
    });
  }

  /** What the worker running the VM reports. */
  async reportState(name: string, report: VmStateReport): Promise<VM> {
    return this.mutate(name, 'worker-report', (vm) => {
      // A late report from an earlier life of the VM (a worker that lost it, a restart since)
      // must not rewrite the current one: a stale "failed" would restart it once more.
      if (report.uid !== undefined && report.uid !== vm.uid) {
        throw conflict(`VM "${name}" is not the VM this report is about (uid ${report.uid})`);
      }
      if (report.restartCount !== undefined && report.restartCount !== vm.restartCount) {
        throw conflict(
          `VM "${name}" is at restart ${vm.restartCount}; this report is about restart ${report.restartCount}`,
        );
      }
      if (report.worker !== undefined && report.worker !== vm.worker) {
        const assigned = vm.worker ? `worker "${vm.worker}"` : 'no worker';
        throw conflict(`VM "${name}" is assigned to ${assigned}, not to "${report.worker}"`);
      }
      const before = JSON.stringify([
        vm.status,
        vm.statusMessage,
        vm.imageFqn,
        vm.observedGeneration,
        vm.conditions,
      ]);
      if (report.status !== undefined) {
        if (report.status === 'running' && vm.status !== 'running') vm.startedAt = new Date();
        vm.status = report.status;
      }
      if (report.statusMessage !== undefined) vm.statusMessage = report.statusMessage;
      if (report.imageFqn !== undefined) vm.imageFqn = report.imageFqn;
      if (report.observedGeneration !== undefined) vm.observedGeneration = report.observedGeneration;
      if (report.conditions !== undefined) vm.conditions = report.conditions;
      return (
        before !==
        JSON.stringify([vm.status, vm.statusMessage, vm.imageFqn, vm.observedGeneration, vm.conditions])
      );
    });
  }

  async delete(name: string): Promise<void> {
    const deleted = await this.dataSource.transaction(async (manager) => {
      const vm = await this.find(manager, name, true);
      await manager.delete(VmEntity, { uid: vm.uid });
      return vm;
    });
    this.events.vmChanged({ type: 'DELETED', vm: toWireVm(deleted) });
  }

  /** Read-modify-write under a row lock; publishes MODIFIED after commit when `apply` changed something. */
  private async mutate(
    name: string,
    cause: VmChange['cause'],
    apply: (vm: VmEntity) => boolean,
  ): Promise<VM> {
    const { entity, changed } = await this.dataSource.transaction(async (manager) => {
      const vm = await this.find(manager, name, true);
      const changed = apply(vm);
      if (changed) await manager.save(VmEntity, vm);
      return { entity: vm, changed };
    });
    const vm = toWireVm(entity);
    if (changed) this.events.vmChanged({ type: 'MODIFIED', vm, cause });
    return vm;
  }

  private async find(manager: EntityManager, name: string, forUpdate = false): Promise<VmEntity> {
    const vm = await manager.findOne(VmEntity, {
      where: { name },
      ...(forUpdate ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
    if (!vm) throw notFound(`VM "${name}" not found`);
    return vm;
  }
}
