import { CommandRunner, Option } from 'nest-commander';

import type { ClientService } from '../common/client.service.js';
import { UsageError } from '../common/errors.js';
import {
  DEFAULT_WAIT_SECONDS,
  describeTarget,
  parseWaitSeconds,
  TunnelDialer,
  type TunnelTarget,
} from '../common/tunnel.js';
import { forwardStdio, forwardUntilStopped, LocalForwarder } from './forwarder.js';
import { parsePortSpec, parseStdioPortSpec } from './port-spec.js';

export interface PortForwardOptions {
  wait: number;
  stdio?: boolean;
}

/**
 * `orchard port-forward vm|worker NAME [LOCAL:]REMOTE`: listens on 127.0.0.1:LOCAL until
 * SIGINT/SIGTERM and carries each connection to REMOTE; with --stdio, one connection over
 * standard input and output (an ssh ProxyCommand).
 */
export abstract class PortForwardRunner extends CommandRunner {
  protected abstract readonly kind: TunnelTarget['kind'];

  constructor(private readonly clients: ClientService) {
    super();
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
    flags: '--stdio',
    description: 'carry one connection over standard input and output (for ssh -o ProxyCommand)',
  })
  parseStdio(): boolean {
    return true;
  }

  async run([name, spec]: string[], options: PortForwardOptions): Promise<void> {
    if (spec === undefined) throw new UsageError('missing the port spec, e.g. 2222:22 (or 22 with --stdio)');
    if (options.stdio) {
      const port = parseStdioPortSpec(spec);
      const dialer = await TunnelDialer.create(this.clients.config);
      await forwardStdio(dialer, { kind: this.kind, name, port, waitSeconds: options.wait });
      return;
    }
    const { localPort, remotePort } = parsePortSpec(spec);
    const dialer = await TunnelDialer.create(this.clients.config);
    const target = { kind: this.kind, name, port: remotePort, waitSeconds: options.wait };
    await dialer.checkExists(this.kind, name);
    const forwarder = new LocalForwarder(dialer, target, (line) => process.stderr.write(`${line}\n`));
    await forwardUntilStopped(forwarder, localPort, ({ address, port }) => {
      process.stdout.write(`Forwarding ${address}:${port} -> ${describeTarget(target)}\n`);
    });
  }
}
