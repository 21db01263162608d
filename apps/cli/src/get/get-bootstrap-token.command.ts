import { randomBytes } from 'node:crypto';

import { CommandRunner, Option, SubCommand } from 'nest-commander';

import { formatBootstrapToken } from '#api';

import { ClientService } from '../common/client.service.js';

interface GetBootstrapTokenOptions {
  token?: string;
}

@SubCommand({
  name: 'bootstrap-token',
  arguments: '<service-account>',
  description: 'Print a token a worker joins with (`orchard worker run URL --bootstrap-token ...`)',
})
export class GetBootstrapTokenCommand extends CommandRunner {
  constructor(private readonly clients: ClientService) {
    super();
  }

  @Option({
    flags: '--token <token>',
    description: "the service account's current token (otherwise a new one is issued)",
  })
  parseToken(text: string): string {
    return text;
  }

  async run([name]: string[], options: GetBootstrapTokenOptions): Promise<void> {
    const client = await this.clients.open();
    let token = options.token;
    if (token) {
      await client.getServiceAccount(name);
    } else {
      // Tokens are stored hashed, so the controller cannot hand the current one back: issue a
      // new one, which replaces the old one for every worker using this account.
      token = randomBytes(32).toString('base64url');
      await client.updateServiceAccount(name, { token });
      process.stderr.write(
        `Issued a new token for service account "${name}"; its previous token no longer works (pass --token to keep it).\n`,
      );
    }
    process.stdout.write(
      formatBootstrapToken({ serviceAccountName: name, serviceAccountToken: token }) + '\n',
    );
  }
}
