import { Logger } from '@nestjs/common';

/**
 * Runs a service until SIGINT/SIGTERM, then closes it; a second signal exits at once. Signals
 * are handled from the start, so one that arrives while the service is still starting stops it
 * as soon as it is up (an embedded PostgreSQL is never left behind).
 */
export async function runUntilSignal(start: () => Promise<{ close(): Promise<void> }>): Promise<void> {
  const log = new Logger('orchard');
  let stopRequested: (signal: NodeJS.Signals) => void = () => undefined;
  let stopping = false;
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    stopRequested = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn(`${signal} again: exiting now`);
      process.exit(130);
    }
    stopping = true;
    log.log(`${signal}: shutting down`);
    stopRequested(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const service = await start();
    await stopSignal;
    await service.close();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
