import { Inject } from '@nestjs/common';
import { CommandRunner, Option, SubCommand } from 'nest-commander';

import type { Environment } from '#client';

import {
  ConfigError,
  resolveControllerConfig,
  type ControllerConfig,
} from '../../../controller/src/config/controller-config.js';
import { runUntilSignal } from '#process';
import { PROCESS_ENV } from '../cli-config.js';
import { UsageError } from '../common/errors.js';

interface ControllerRunOptions {
  listen: string;
  dataDir?: string;
  databaseUrl?: string;
  apiPrefix?: string;
  insecureNoTls?: boolean;
  workerOfflineTimeout: string;
  debug?: boolean;
}

@SubCommand({ name: 'run', description: 'Run the controller until SIGINT or SIGTERM' })
export class ControllerRunCommand extends CommandRunner {
  constructor(@Inject(PROCESS_ENV) private readonly env: Environment) {
    super();
  }

  @Option({ flags: '-l, --listen <address>', description: 'address to listen on', defaultValue: ':6120' })
  parseListen(text: string): string {
    return text;
  }

  @Option({
    flags: '--data-dir <path>',
    description: "path to the controller's data directory (default: $HOME/.orchard/controller)",
  })
  parseDataDir(text: string): string {
    return text;
  }

  @Option({
    flags: '--database-url <url>',
    description:
      'PostgreSQL to use, postgres://user:password@host:5432/db (default: $DATABASE_URL, else an embedded one in the data directory)',
  })
  parseDatabaseUrl(text: string): string {
    return text;
  }

  @Option({
    flags: '--api-prefix <path>',
    description: 'serve the API under this path prefix (in front of /v1)',
  })
  parseApiPrefix(text: string): string {
    return text;
  }

  @Option({ flags: '--insecure-no-tls', description: 'serve plain HTTP (for now the only mode)' })
  parseInsecureNoTls(): boolean {
    return true;
  }

  @Option({
    flags: '--worker-offline-timeout <duration>',
    description: 'how long a worker may stay silent before it counts as offline',
    defaultValue: '3m',
  })
  parseWorkerOfflineTimeout(text: string): string {
    return text;
  }

  @Option({ flags: '--debug', description: 'enable debug logging' })
  parseDebug(): boolean {
    return true;
  }

  async run(_args: string[], options: ControllerRunOptions): Promise<void> {
    const config = this.config(options);
    // Loaded here, not at the top: the other commands should not pay for the server's modules.
    const { createController } = await import('../../../controller/src/bootstrap.js');
    await runUntilSignal(async () => {
      const controller = await createController(config);
      // The readiness line: scripts and tests wait for it and read the real port from it.
      process.stdout.write(`orchard controller listening on ${controller.url}${config.apiPrefix}\n`);
      return controller;
    });
  }

  private config(options: ControllerRunOptions): ControllerConfig {
    try {
      return resolveControllerConfig(
        {
          listen: options.listen,
          dataDir: options.dataDir,
          databaseUrl: options.databaseUrl,
          apiPrefix: options.apiPrefix,
          workerOfflineTimeout: options.workerOfflineTimeout,
          debug: options.debug,
        },
        this.env,
      );
    } catch (error) {
      if (error instanceof ConfigError) throw new UsageError(error.message);
      throw error;
    }
  }
}
