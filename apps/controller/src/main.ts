import { runUntilSignal } from '#process';

import { createController } from './bootstrap.js';
import { controllerConfigFromEnvironment } from './config/controller-config.js';

// Standalone entry (the Docker image): configured by the environment only, see
// resolveControllerConfig (ORCHARD_LISTEN, DATABASE_URL, ORCHARD_DATA_DIR, ...).
await runUntilSignal(() => createController(controllerConfigFromEnvironment()));
