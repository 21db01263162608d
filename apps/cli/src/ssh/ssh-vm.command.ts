import { Inject } from '@nestjs/common';
import { CommandRunner, Option, SubCommand } from 'nest-commander';

import type { Environment } from '#client';

import { PROCESS_ENV } from '../cli-config.js';
import { ClientService } from '../common/client.service.js';
import { DEFAULT_WAIT_SECONDS, parseWaitSeconds, TunnelDialer } from '../common/tunnel.js';
import { vmCredentials } from './credentials.js';
import { runSshSession } from './ssh-session.js';

interface SshVmOptions {
  username?: string;
  password?: string;
  wait: number;
  debug?: boolean;
}

/** The SSH server of every Tart VM (and of the synthetic ones). */
const SSH_PORT = 22;

@SubCommand({
  name: 'vm',
  arguments: '<name> [command...]',
  description:
    'SSH into a VM through the controller: an interactive shell, or run COMMAND (put -- before a command that has options) and exit with its status',
})
export class SshVmCommand extends CommandRunner {
  constructor(
    private readonly clients: ClientService,
    @Inject(PROCESS_ENV) private readonly env: Environment,
  ) {
    super();
  }

  @Option({ flags: '-u, --username <username>', description: "SSH username (default: the VM's, else admin)" })
  parseUsername(text: string): string {
    return text;
  }

  @Option({ flags: '-p, --password <password>', description: "SSH password (default: the VM's, else admin)" })
  parsePassword(text: string): string {
    return text;
  }

  @Option({
    flags: '-t, --wait <seconds>',
    description: "seconds to wait for the VM to run and its worker to be connected, if they aren't yet",
    defaultValue: DEFAULT_WAIT_SECONDS,
  })
  parseWait(text: string): number {
    return parseWaitSeconds(text);
  }

  @Option({
    flags: '--debug',
    description: "show the VM's host key fingerprint and SSH diagnostics on stderr",
  })
  parseDebug(): boolean {
    return true;
  }

  async run([name, ...words]: string[], options: SshVmOptions): Promise<void> {
    const dialer = await TunnelDialer.create(this.clients.config);
    // The tunnel first: it waits for the VM to run and says best why it cannot be reached.
    const sock = await dialer.open({ kind: 'vm', name, port: SSH_PORT, waitSeconds: options.wait });
    try {
      const credentials = await vmCredentials(dialer.client, name, options);
      process.exitCode = await runSshSession({
        sock,
        peer: `VM "${name}"`,
        credentials,
        command: words.length > 0 ? words.join(' ') : undefined,
        term: this.env['TERM'] || 'xterm-256color',
        debug: options.debug ? (line) => process.stderr.write(`${line}\n`) : () => undefined,
      });
    } finally {
      sock.destroy();
    }
  }
}
