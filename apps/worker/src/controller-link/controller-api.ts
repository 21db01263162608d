import type { VM, VmStateReport, Worker } from '#api';

/** The REST calls a worker makes; implemented over libs/client, faked nowhere (tests use a real controller). */
export interface ControllerApi {
  registerWorker(registration: {
    name: string;
    machine_id: string;
    resources: Record<string, number>;
    labels: Record<string, string>;
    defaultCPU: number;
    defaultMemory: number;
    arch: string;
    runtime: string;
  }): Promise<Worker>;
  /** PUT /v1/workers/{name} with last_seen; resolves false when the worker is unknown (404). */
  heartbeat(name: string, machineId: string): Promise<boolean>;
  /** GET /v1/vms?filter=worker=NAME */
  listVms(worker: string): Promise<VM[]>;
  /** PUT /v1/vms/{name}/state; resolves false when the VM is gone (404) or has moved on (409). */
  reportVmState(name: string, report: VmStateReport): Promise<boolean>;
}
