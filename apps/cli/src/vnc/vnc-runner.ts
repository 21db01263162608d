import { CommandRunner, Option } from 'nest-commander';

import type { Environment } from '#client';

import type { ClientService } from '../common/client.service.js';
import { DEFAULT_WAIT_SECONDS, describeTarget, parseWaitSeconds, TunnelDialer } from '../common/tunnel.js';
import { forwardUntilStopped, LocalForwarder } from '../port-forward/forwarder.js';
import type { CredentialFlags } from '../ssh/credentials.js';
import { findOpener, launch } from './opener.js';

export interface VncOptions extends CredentialFlags {
  wait: number;
}

/** Screen Sharing, on macOS hosts and in Tart VMs. */
export const VNC_PORT = 5900;

/**
 * `orchard vnc vm|worker NAME`: forwards a free local port to the target's VNC port, opens
 * vnc://USER:PASS@127.0.0.1:PORT with the system's URL opener (or prints it when there is none),
 * and keeps forwarding until SIGINT/SIGTERM.
 */
export abstract class VncRunner extends CommandRunner {
  protected abstract readonly kind: 'vm' | 'worker';

  constructor(
    private readonly clients: ClientService,
    private readonly env: Environment,
  ) {
    super();
  }

  @Option({ flags: '-u, --username <username>', description: 'VNC username' })
  parseUsername(text: string): string {
    return text;
  }

  @Option({ flags: '-p, --password <password>', description: 'VNC password' })
  parsePassword(text: string): string {
    return text;
  }

  @Option({
    flags: '-w, --wait <seconds>',
    description: "seconds to wait for the VM to run and its worker to be connected, if they aren't yet",
    defaultValue: DEFAULT_WAIT_SECONDS,
  })
  parseWait(text: string): number {
    return parseWaitSeconds(text);
  }

  /** The user and password to put in the URL, if any (checks that the target exists too). */
  protected abstract credentials(
    dialer: TunnelDialer,
    name: string,
    options: VncOptions,
  ): Promise<{ username?: string; password?: string }>;

  async run([name]: string[], options: VncOptions): Promise<void> {
    const dialer = await TunnelDialer.create(this.clients.config);
    const { username, password } = await this.credentials(dialer, name, options);
    const target = { kind: this.kind, name, port: VNC_PORT, waitSeconds: options.wait };
    const forwarder = new LocalForwarder(dialer, target, (line) => process.stderr.write(`${line}\n`));
    await forwardUntilStopped(forwarder, 0, async ({ address, port }) => {
      process.stdout.write(`Forwarding ${address}:${port} -> ${describeTarget(target)}\n`);

      const userInfo = (withPassword: boolean) => {
        if (username === undefined) return '';
        const secret = withPassword && password !== undefined ? `:${encodeURIComponent(password)}` : '';
        return `${encodeURIComponent(username)}${secret}@`;
      };
      const url = `vnc://${userInfo(true)}${address}:${port}`;
      const opener = findOpener(this.env);
      if (opener && (await launch(opener, url))) {
        // The password stays off the screen when an application takes the URL.
        process.stdout.write(`Opening vnc://${userInfo(false)}${address}:${port} (Ctrl-C to stop)\n`);
      } else {
        process.stdout.write(`Open ${url} with a VNC client (Ctrl-C to stop)\n`);
      }
    });
  }
}
