import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { userInfo } from 'node:os';

import { Child, type ChildStop } from './child.js';
import { pingPong } from './measure.js';
import { freePort } from './ports.js';
import type { Probe } from './proc.js';
import type { Targets } from './targets.js';

const run = promisify(execFile);
const READY_TIMEOUT_MS = 20_000;
/** sshd's privilege separation directory (Debian's build); it refuses to start as root without it. */
const PRIVSEP_DIR = '/run/sshd';

export interface ForwardedPorts {
  sink: number;
  source: number;
  echo: number;
}

export interface SshPath {
  ports: ForwardedPorts;
  probes: Probe[];
  /** The cipher negotiated (ssh -v), e.g. chacha20-poly1305@openssh.com. */
  cipher: string;
  version: string;
  stop(): Promise<ChildStop[]>;
}

async function findExecutable(name: string, extraDirs: string[]): Promise<string | null> {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), ...extraDirs];
  for (const dir of dirs) {
    if (!dir) continue;
    try {
      await access(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * `ssh -L` through a private OpenSSH server: sshd on 127.0.0.1:<free port> with a throw-away host
 * key and authorized_keys in `dir`, no system configuration (`-f /dev/null`), as the current user;
 * then `ssh -N` with three local forwards (sink, source, echo) and the default cipher. Resolves with
 * a reason instead when it cannot run here.
 */
export async function startSshPath(dir: string, targets: Targets): Promise<SshPath | string> {
  const sshd = await findExecutable('sshd', ['/usr/sbin', '/usr/local/sbin', '/sbin']);
  const ssh = await findExecutable('ssh', []);
  const keygen = await findExecutable('ssh-keygen', []);
  if (!sshd) return 'sshd is not installed (Debian: apt-get install openssh-server)';
  if (!ssh || !keygen) return 'the OpenSSH client (ssh, ssh-keygen) is not installed';

  const user = userInfo();
  let createdPrivsepDir = false;
  if (user.uid === 0) {
    try {
      await access(PRIVSEP_DIR);
    } catch {
      await mkdir(PRIVSEP_DIR, { mode: 0o755 });
      createdPrivsepDir = true;
    }
  }
  const children: Child[] = [];
  const stop = async () => {
    const outcomes: ChildStop[] = [];
    for (const child of children.reverse()) outcomes.push(await child.stop());
    if (createdPrivsepDir) await rmdir(PRIVSEP_DIR).catch(() => undefined);
    return outcomes;
  };
  try {
    const hostKey = join(dir, 'ssh_host_ed25519_key');
    const clientKey = join(dir, 'id_ed25519');
    await run(keygen, ['-q', '-t', 'ed25519', '-N', '', '-C', 'orchard-bench-host', '-f', hostKey]);
    await run(keygen, ['-q', '-t', 'ed25519', '-N', '', '-C', 'orchard-bench-client', '-f', clientKey]);
    const authorizedKeys = join(dir, 'authorized_keys');
    await writeFile(authorizedKeys, await readFile(`${clientKey}.pub`), { mode: 0o600 });
    const port = await freePort();
    const knownHosts = join(dir, 'known_hosts');
    await writeFile(knownHosts, `[127.0.0.1]:${port} ${(await readFile(`${hostKey}.pub`, 'utf8')).trim()}\n`);

    const server = new Child({
      name: 'sshd',
      command: sshd,
      args: [
        ...['-f', '/dev/null', '-D', '-e'],
        ...['-o', `Port=${port}`, '-o', 'ListenAddress=127.0.0.1', '-o', `HostKey=${hostKey}`],
        ...['-o', `AuthorizedKeysFile=${authorizedKeys}`, '-o', 'PidFile=none', '-o', 'StrictModes=no'],
        ...['-o', 'PasswordAuthentication=no', '-o', 'KbdInteractiveAuthentication=no', '-o', 'UsePAM=no'],
        ...['-o', 'AllowTcpForwarding=yes', '-o', `PermitRootLogin=${user.uid === 0 ? 'yes' : 'no'}`],
      ],
      logFile: join(dir, 'sshd.log'),
      stopSignal: 'SIGTERM',
      stopTimeoutMs: 5_000,
    });
    children.push(server);
    await server.waitForLine(/Server listening on 127\.0\.0\.1 port/, READY_TIMEOUT_MS);

    const ports: ForwardedPorts = {
      sink: await freePort(),
      source: await freePort(),
      echo: await freePort(),
    };
    const forward = (local: number, remote: number) => ['-L', `127.0.0.1:${local}:127.0.0.1:${remote}`];
    const client = new Child({
      name: 'ssh -L',
      command: ssh,
      args: [
        ...['-F', '/dev/null', '-v', '-N', '-p', String(port), '-i', clientKey],
        ...['-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'ExitOnForwardFailure=yes'],
        ...['-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'GlobalKnownHostsFile=/dev/null'],
        ...['-o', 'StrictHostKeyChecking=yes', '-o', 'ServerAliveInterval=0'],
        ...forward(ports.sink, targets.sinkPort),
        ...forward(ports.source, targets.sourcePort),
        ...forward(ports.echo, targets.echoPort),
        `${user.username}@127.0.0.1`,
      ],
      logFile: join(dir, 'ssh.log'),
      stopSignal: 'SIGTERM',
      stopTimeoutMs: 5_000,
    });
    children.push(client);
    await untilForwarding(client, ports.echo);
    const log = client.log();
    const cipher = /kex: server->client cipher: (\S+)/.exec(log)?.[1] ?? 'unknown';
    const version = /^(OpenSSH_\S+)/m.exec(log)?.[1] ?? 'OpenSSH';
    return {
      ports,
      probes: [
        { label: 'ssh', pid: client.pid ?? -1 },
        { label: 'sshd', pid: server.pid ?? -1, tree: true },
      ],
      cipher,
      version,
      stop,
    };
  } catch (error) {
    await stop();
    return `could not start: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
  }
}

/** ssh listens on its local ports only after authenticating: poll the echo forward. */
async function untilForwarding(client: Child, echoPort: number): Promise<void> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  while (performance.now() < deadline) {
    if (client.hasExited) throw new Error(`ssh exited:\n${client.logTail(5)}`);
    const probe = await pingPong(echoPort, 1, 1_000);
    if (probe.samples.length === 1) return;
    await sleep(100);
  }
  throw new Error(`ssh did not forward within ${READY_TIMEOUT_MS} ms:\n${client.logTail(5)}`);
}
