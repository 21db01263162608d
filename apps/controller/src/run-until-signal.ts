import { Logger } from '@nestjs/common';

/** Runs a service until SIGINT/SIGTERM, then closes it; a second signal exits at once. */
export async function runUntilSignal(start: () => Promise<{ close(): Promise<void> }>): Promise<void> {
  const log = new Logger('orchard');
  const service = await start();
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn(`${signal} again: exiting now`);
        process.exit(130);
      }
      stopping = true;
      log.log(`${signal}: shutting down`);
      service.close().then(resolve, (error: unknown) => {
        log.error(`shutdown failed: ${String(error)}`);
        process.exitCode = 1;
        resolve();
      });
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
