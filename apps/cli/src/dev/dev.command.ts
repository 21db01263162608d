import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

import { Inject } from '@nestjs/common';
import { Command, CommandRunner, Option } from 'nest-commander';

import { addContext, loadContexts, saveContexts, setDefaultContext, type Environment } from '#client';

import {
  ConfigError,
  parseListen,
  resolveControllerConfig,
} from '../../../controller/src/config/controller-config.js';
import { runUntilSignal } from '#process';
import { resolveWorkerConfig, type RuntimeKind } from '../../../worker/src/config/worker-config.js';
import { PROCESS_ENV } from '../cli-config.js';
import { ClientService } from '../common/client.service.js';
import { UsageError } from '../common/errors.js';
import { parseChoice, parseCount } from '../common/flags.js';

export const DEV_CONTEXT = 'local-dev';

interface DevOptions {
  listen: string;
  dataDir: string;
  workers: number;
  runtime?: RuntimeKind;
  debug?: boolean;
}

async function onPath(executable: string, env: Environment): Promise<boolean> {
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      await access(join(dir, executable), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\./.test(host);

@Command({
  name: 'dev',
  description:
    'Run a whole cluster in this process: controller (no auth, loopback only), embedded PostgreSQL and workers',
})
export class DevCommand extends CommandRunner {
  constructor(
    @Inject(PROCESS_ENV) private readonly env: Environment,
    private readonly clients: ClientService,
  ) {
    super();
  }

  @Option({
    flags: '-l, --listen <address>',
    description: 'loopback address to listen on',
    defaultValue: '127.0.0.1:6120',
  })
  parseListen(text: string): string {
    return text;
  }

  @Option({
    flags: '--data-dir <path>',
    description: 'where the embedded PostgreSQL keeps its data',
    defaultValue: '.dev-data',
  })
  parseDataDir(text: string): string {
    return text;
  }

  @Option({ flags: '--workers <n>', description: 'number of workers', defaultValue: 1 })
  parseWorkers(text: string): number {
    const count = parseCount('--workers', text);
    if (count < 1) throw new UsageError('--workers must be at least 1');
    return count;
  }

  @Option({
    flags: '--runtime <runtime>',
    description: 'tart or synthetic (default: tart when it is on the PATH)',
  })
  parseRuntime(text: string): RuntimeKind {
    return parseChoice('--runtime', text, ['tart', 'synthetic'] as const);
  }

  @Option({ flags: '--debug', description: 'enable debug logging' })
  parseDebug(): boolean {
    return true;
  }

  async run(_args: string[], options: DevOptions): Promise<void> {
    let host: string;
    try {
      host = parseListen(options.listen).host;
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    if (!isLoopback(host)) {
      throw new UsageError(
        `dev mode has no authentication, so it listens on loopback only, not on "${host}"`,
      );
    }
    const runtime: RuntimeKind = options.runtime ?? ((await onPath('tart', this.env)) ? 'tart' : 'synthetic');
    let controllerConfig;
    try {
      controllerConfig = resolveControllerConfig(
        { listen: options.listen, dataDir: options.dataDir, authEnabled: false, debug: options.debug },
        // The dev cluster ignores DATABASE_URL and a bootstrap token: it is self-contained.
        { ...this.env, DATABASE_URL: undefined, ORCHARD_BOOTSTRAP_ADMIN_TOKEN: undefined },
      );
    } catch (error) {
      if (error instanceof ConfigError) throw new UsageError(error.message);
      throw error;
    }
    const { createController } = await import('../../../controller/src/bootstrap.js');
    const { createWorker } = await import('../../../worker/src/bootstrap.js');

    await runUntilSignal(async () => {
      const controller = await createController(controllerConfig);
      const workers: { close(): Promise<void> }[] = [];
      const close = async () => {
        await Promise.all(workers.map((worker) => worker.close()));
        await controller.close();
      };
      try {
        for (let i = 1; i <= options.workers; i++) {
          const name = options.workers === 1 ? 'dev-worker' : `dev-worker-${i}`;
          const config = resolveWorkerConfig(
            {
              controllerUrl: controller.url,
              name,
              runtime,
              machineId: `orchard-dev-${name}`,
              debug: options.debug,
            },
            {
              ...this.env,
              ORCHARD_SERVICE_ACCOUNT_NAME: undefined,
              ORCHARD_SERVICE_ACCOUNT_TOKEN: undefined,
            },
          );
          const worker = await createWorker(config);
          workers.push(worker);
          await worker.connected();
        }
        const file = this.clients.config.contextsFile;
        const contexts = addContext(await loadContexts(file), DEV_CONTEXT, { url: controller.url }, true);
        await saveContexts(file, setDefaultContext(contexts, DEV_CONTEXT));
      } catch (error) {
        await close();
        throw error;
      }
      process.stdout.write(
        `orchard dev is ready: controller ${controller.url} (no auth), ${options.workers} worker(s) on the ${runtime} runtime` +
          `${runtime === 'synthetic' ? ' (tart is not on the PATH)' : ''}, context "${DEV_CONTEXT}" selected. Ctrl-C stops everything.\n`,
      );
      return { close };
    });
  }
}
