import { TART_VMS_RESOURCE } from '#api';

/**
 * The cluster both halves of the benchmark use: the request bodies the HTTP half sends, and
 * (parsed by the same #api functions the controller uses) the synthetic scheduler input.
 */

/**
 * Slots per worker. 200 workers x 100 = 20,000: room for the 10,000 seeded VMs and for every
 * VM the POST phase adds, so all of them get placed, as in a healthy cluster.
 */
export const TART_VMS_PER_WORKER = 100;

export const POOL_LABEL = { pool: 'bench' } as const;

export function workerName(index: number): string {
  return `bench-worker-${String(index).padStart(4, '0')}`;
}

export function seededVmName(index: number): string {
  return `bench-vm-${String(index).padStart(6, '0')}`;
}

/** POST /v1/workers, as a worker registers itself. */
export function workerBody(index: number): Record<string, unknown> {
  return {
    name: workerName(index),
    machine_id: `bench-machine-${index}`,
    resources: {
      [TART_VMS_RESOURCE]: TART_VMS_PER_WORKER,
      'org.cirruslabs.logical-cores': 10 * TART_VMS_PER_WORKER,
      'org.cirruslabs.memory-mib': 16_384 * TART_VMS_PER_WORKER,
    },
    labels: { ...POOL_LABEL, rack: `rack-${index % 10}` },
    defaultCPU: 4,
    defaultMemory: 8192,
  };
}

/** POST /v1/vms: what a CI integration sends; the controller adds one tart-vms slot (darwin on tart). */
export function vmBody(name: string): Record<string, unknown> {
  return {
    name,
    image: 'ghcr.io/cirruslabs/macos-sequoia-base:latest',
    labels: { ...POOL_LABEL },
  };
}
