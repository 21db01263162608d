import { resolveControllerConfig } from './config/controller-config.js';
import { createController } from './bootstrap.js';
import { runUntilSignal } from './run-until-signal.js';

// Standalone entry (Docker image): configuration from the environment only.
await runUntilSignal(() =>
  createController(
    resolveControllerConfig({ listen: process.env['ORCHARD_LISTEN'], authEnabled: true }, process.env),
  ),
);
