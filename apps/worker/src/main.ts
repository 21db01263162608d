import { runUntilSignal } from '#process';

import { createWorker } from './bootstrap.js';
import { workerConfigFromEnvironment } from './config/worker-config.js';

// Standalone entry (a container, a custom launchd job): configured by the environment only,
// see resolveWorkerConfig. `orchard worker run` is the usual way to start a worker.
await runUntilSignal(() => createWorker(workerConfigFromEnvironment()));
