import type { VM, VmStateReport, Worker } from '#api';
import { ApiError, type OrchardClient } from '#client';

import type { ControllerApi } from './controller-api.js';

const isNotFound = (error: unknown) => error instanceof ApiError && error.status === 404;
const isConflict = (error: unknown) => error instanceof ApiError && error.status === 409;

/** ControllerApi over the REST client the CLI uses too. */
export class RestControllerApi implements ControllerApi {
  constructor(private readonly client: OrchardClient) {}

  registerWorker(registration: Parameters<ControllerApi['registerWorker']>[0]): Promise<Worker> {
    return this.client.createWorker({
      ...registration,
      arch: registration.arch as Worker['arch'],
      runtime: registration.runtime as Worker['runtime'],
    });
  }

  async heartbeat(name: string, machineId: string): Promise<boolean> {
    try {
      await this.client.updateWorker(name, { last_seen: new Date().toISOString(), machine_id: machineId });
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  listVms(worker: string): Promise<VM[]> {
    return this.client.listVms({ worker });
  }

  async reportVmState(name: string, report: VmStateReport): Promise<boolean> {
    try {
      await this.client.updateVmState(name, {
        status: report.status,
        status_message: report.statusMessage,
        image_fqn: report.imageFqn,
        observedGeneration: report.observedGeneration,
        conditions: report.conditions,
        uid: report.uid,
        restart_count: report.restartCount,
        worker: report.worker,
      });
      return true;
    } catch (error) {
      // 409: the VM has moved on (restarted, reassigned, recreated) and this one is not it.
      if (isNotFound(error) || isConflict(error)) return false;
      throw error;
    }
  }
}
