import { CommandRunner, Option, SubCommand } from 'nest-commander';

import { addContext, ApiError, loadContexts, OrchardClient, saveContexts, type Context } from '#client';

import { USER_AGENT } from '../cli-config.js';
import { ClientService } from '../common/client.service.js';
import { CommandFailedError, UsageError } from '../common/errors.js';
import { normaliseControllerUrl } from './controller-url.js';

interface ContextCreateOptions {
  name: string;
  serviceAccountName?: string;
  serviceAccountToken?: string;
  force?: boolean;
}

@SubCommand({
  name: 'create',
  arguments: '<url>',
  description:
    "Save a controller's address and credentials as a context (checked against the controller first)",
})
export class ContextCreateCommand extends CommandRunner {
  constructor(private readonly clients: ClientService) {
    super();
  }

  @Option({ flags: '--name <name>', description: 'context name', defaultValue: 'default' })
  parseName(text: string): string {
    return text;
  }

  @Option({ flags: '--service-account-name <name>', description: 'service account to authenticate as' })
  parseServiceAccountName(text: string): string {
    return text;
  }

  @Option({ flags: '--service-account-token <token>', description: "that service account's token" })
  parseServiceAccountToken(text: string): string {
    return text;
  }

  @Option({
    flags: '--force',
    description: 'save without checking the controller, replacing a context of the same name',
  })
  parseForce(): boolean {
    return true;
  }

  async run([address]: string[], options: ContextCreateOptions): Promise<void> {
    if (!options.serviceAccountName !== !options.serviceAccountToken) {
      throw new UsageError('give both --service-account-name and --service-account-token, or neither');
    }
    const context: Context = { url: normaliseControllerUrl(address) };
    if (options.serviceAccountName) context.serviceAccountName = options.serviceAccountName;
    if (options.serviceAccountToken) context.serviceAccountToken = options.serviceAccountToken;
    if (!options.force) await verify(context);

    const file = this.clients.config.contextsFile;
    await saveContexts(file, addContext(await loadContexts(file), options.name, context, options.force));
  }
}

/** Refuses to save a context that would not work: unreachable, or credentials refused. */
async function verify(context: Context): Promise<void> {
  const client = new OrchardClient({ ...context, userAgent: USER_AGENT });
  try {
    await client.controllerInfo();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      throw new CommandFailedError(
        context.serviceAccountName
          ? `the controller at ${context.url} refused service account "${context.serviceAccountName}": ${error.message}`
          : `the controller at ${context.url} requires a service account: pass --service-account-name and --service-account-token`,
      );
    }
    throw error;
  }
}
