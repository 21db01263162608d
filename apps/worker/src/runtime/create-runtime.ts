import type { WorkerConfig } from '../config/worker-config.js';
import { SyntheticRuntime } from './synthetic/synthetic.runtime.js';
import { TartRuntime } from './tart/tart.runtime.js';
import type { VmRuntime } from './vm-runtime.js';

/** The one place a worker's configured runtime kind becomes an adapter. */
export function createRuntime(config: Pick<WorkerConfig, 'runtime' | 'tartPath'>): VmRuntime {
  switch (config.runtime) {
    case 'tart':
      return new TartRuntime({ binary: config.tartPath });
    case 'synthetic':
      return new SyntheticRuntime();
  }
}
