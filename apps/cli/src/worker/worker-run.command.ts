import { Inject } from '@nestjs/common';
import { CommandRunner, Option, SubCommand } from 'nest-commander';

import { OrchardError, parseBootstrapToken } from '#api';
import type { Environment } from '#client';

import { runUntilSignal } from '#process';
import {
  WorkerConfigError,
  resolveWorkerConfig,
  type WorkerConfig,
} from '../../../worker/src/config/worker-config.js';
import { PROCESS_ENV } from '../cli-config.js';
import { UsageError } from '../common/errors.js';
import { appendList } from '../common/flags.js';

interface WorkerRunOptions {
  bootstrapToken?: string;
  bootstrapTokenStdin?: boolean;
  name?: string;
  runtime?: string;
  resources?: string[];
  labels?: string[];
  defaultCpu?: string;
  defaultMemory?: string;
  debug?: boolean;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

@SubCommand({
  name: 'run',
  arguments: '<controller-url>',
  description:
    'Join the cluster and run the VMs the controller assigns to this machine (until SIGINT/SIGTERM)',
})
export class WorkerRunCommand extends CommandRunner {
  constructor(@Inject(PROCESS_ENV) private readonly env: Environment) {
    super();
  }

  @Option({ flags: '--bootstrap-token <token>', description: 'as printed by `orchard get bootstrap-token`' })
  parseBootstrapToken(text: string): string {
    return text;
  }

  @Option({ flags: '--bootstrap-token-stdin', description: 'read the bootstrap token from standard input' })
  parseBootstrapTokenStdin(): boolean {
    return true;
  }

  @Option({ flags: '--name <name>', description: 'worker name (default: the hostname)' })
  parseName(text: string): string {
    return text;
  }

  @Option({
    flags: '--runtime <runtime>',
    description: 'tart, or synthetic (in-process VMs)',
    defaultValue: 'tart',
  })
  parseRuntime(text: string): string {
    return text;
  }

  @Option({ flags: '--resources <key=value>', description: 'override or add a resource (repeatable)' })
  parseResources(text: string, previous?: string[]): string[] {
    return appendList(text, previous);
  }

  @Option({ flags: '--labels <key=value>', description: 'a label VMs can ask for (repeatable)' })
  parseLabels(text: string, previous?: string[]): string[] {
    return appendList(text, previous);
  }

  @Option({ flags: '--default-cpu <n>', description: 'CPUs for VMs that name none', defaultValue: '4' })
  parseDefaultCpu(text: string): string {
    return text;
  }

  @Option({
    flags: '--default-memory <mib>',
    description: 'memory for VMs that name none',
    defaultValue: '8192',
  })
  parseDefaultMemory(text: string): string {
    return text;
  }

  @Option({ flags: '--debug', description: 'enable debug logging' })
  parseDebug(): boolean {
    return true;
  }

  async run([controllerUrl]: string[], options: WorkerRunOptions): Promise<void> {
    const config = await this.config(controllerUrl, options);
    // Loaded here, not at the top: the other commands should not pay for the worker's modules.
    const { createWorker } = await import('../../../worker/src/bootstrap.js');
    await runUntilSignal(async () => {
      const worker = await createWorker(config);
      process.stdout.write(
        `orchard worker "${config.name}" started (runtime ${config.runtime}), joining ${config.controllerUrl}\n`,
      );
      return worker;
    });
  }

  private async config(controllerUrl: string, options: WorkerRunOptions): Promise<WorkerConfig> {
    if (options.bootstrapToken && options.bootstrapTokenStdin) {
      throw new UsageError('give --bootstrap-token or --bootstrap-token-stdin, not both');
    }
    const text = options.bootstrapTokenStdin ? await readStdin() : options.bootstrapToken;
    try {
      const token = text ? parseBootstrapToken(text) : null;
      return resolveWorkerConfig(
        {
          controllerUrl,
          name: options.name,
          serviceAccountName: token?.serviceAccountName,
          serviceAccountToken: token?.serviceAccountToken,
          runtime: options.runtime,
          resources: options.resources,
          labels: options.labels,
          defaultCpu: options.defaultCpu,
          defaultMemory: options.defaultMemory,
          debug: options.debug,
        },
        this.env,
      );
    } catch (error) {
      if (error instanceof WorkerConfigError || error instanceof OrchardError)
        throw new UsageError(error.message);
      throw error;
    }
  }
}
