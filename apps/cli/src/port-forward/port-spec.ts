import { UsageError } from '../common/errors.js';

/** `[LOCAL]:REMOTE`: where to listen on 127.0.0.1 (0: any free port) and where to connect. */
export interface PortSpec {
  localPort: number;
  remotePort: number;
}

function port(text: string, what: string, spec: string, allowZero: boolean): number {
  const value = Number(text);
  const min = allowZero ? 0 : 1;
  if (!/^\d+$/.test(text) || value < min || value > 65535) {
    throw new UsageError(`"${spec}": the ${what} port must be a number from ${min} to 65535, not "${text}"`);
  }
  return value;
}

/**
 * Orchard's port spec: `REMOTE` (any free local port), `LOCAL:REMOTE`, and, as a shorthand for a
 * free local port, `:REMOTE` or `0:REMOTE`.
 */
export function parsePortSpec(spec: string): PortSpec {
  const parts = spec.split(':');
  if (parts.length > 2 || spec === '') {
    throw new UsageError(`"${spec}" is not a port spec: expected [LOCAL_PORT:]REMOTE_PORT, e.g. 2222:22`);
  }
  const remote = parts.length === 1 ? parts[0] : parts[1];
  const local = parts.length === 1 || parts[0] === '' ? '0' : parts[0];
  return { localPort: port(local, 'local', spec, true), remotePort: port(remote, 'remote', spec, false) };
}

/** With --stdio there is no local port: `REMOTE`, or `:REMOTE` / `0:REMOTE` for symmetry. */
export function parseStdioPortSpec(spec: string): number {
  const { localPort, remotePort } = parsePortSpec(spec);
  if (localPort !== 0) {
    throw new UsageError(
      `--stdio forwards standard input and output, not a local port: give only the remote port`,
    );
  }
  return remotePort;
}
