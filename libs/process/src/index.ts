// Process-level concerns shared by every app: how we log, how we stop on a signal.
export { OrchardLogger } from './orchard-logger.js';
export { runUntilSignal } from './run-until-signal.js';
