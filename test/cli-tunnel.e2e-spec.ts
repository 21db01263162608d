import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Cli, linesOf, type RunningCli } from './support/cli-harness.js';
import { startTestCluster, type TestCluster } from './support/cluster-harness.js';

/**
 * `orchard port-forward`, `ssh` and `vnc` as real processes against a controller and a synthetic
 * worker running in this process: the VM's port 22 is a real SSH server (password auth with the
 * VM's credentials), every other port echoes, and a worker's port-forward reaches this machine's
 * loopback.
 */

const ORCHARD_BIN = fileURLToPath(new URL('../bin/orchard.js', import.meta.url));
const VM = 'target';
// Not admin/admin, so that logging in proves the CLI asked the controller for the VM's own.
const VM_USER = 'builder';
const VM_PASSWORD = 'p@ss w0rd';
const MiB = 1024 * 1024;

const hasOpenSsh = spawnSync('sh', ['-c', 'command -v ssh'], { stdio: 'ignore' }).status === 0;
if (!hasOpenSsh) {
  console.warn('OpenSSH tests skipped: no `ssh` on the PATH (CI installs openssh-client)');
}
const withOpenSsh = hasOpenSsh ? it : it.skip;

interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** A process whose stdin we write to and whose output we collect. */
interface Spawned {
  child: ChildProcessWithoutNullStreams;
  exited: Promise<Exited>;
  /** Resolves once stdout (as text) matches. */
  stdoutMatches(pattern: RegExp): Promise<RegExpMatchArray>;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** A free port on 127.0.0.1 (bound, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function connectTo(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/**
 * Streams `size` random bytes into the socket and reads the echo back; resolves with the sha256
 * of both once everything came back. The socket is not half-closed first, so that this works
 * whether or not the path carries a half-close (see the half-close test).
 */
function echoRoundTrip(socket: Socket, size: number): Promise<{ sent: string; received: string }> {
  return new Promise((resolve, reject) => {
    const sent = createHash('sha256');
    const received = createHash('sha256');
    let written = 0;
    let read = 0;
    const pump = () => {
      while (written < size) {
        const chunk = randomBytes(Math.min(MiB, size - written));
        written += chunk.length;
        sent.update(chunk);
        if (!socket.write(chunk)) return void socket.once('drain', pump);
      }
    };
    socket.on('data', (chunk: Buffer) => {
      read += chunk.length;
      received.update(chunk);
      if (read >= size) {
        socket.destroy();
        resolve({ sent: sent.digest('hex'), received: received.digest('hex') });
      }
    });
    socket.once('error', reject);
    socket.once('close', () => {
      if (read < size) reject(new Error(`connection closed after ${read} of ${size} bytes`));
    });
    pump();
  });
}

describe('orchard port-forward, ssh and vnc through the controller', () => {
  let cluster: TestCluster;
  let cli: Cli;
  /** What points the CLI at the cluster, as the bootstrap admin. */
  let orchardEnv: NodeJS.ProcessEnv;
  /** The whole environment of processes started here: ours without ORCHARD_*, plus the above. */
  let env: NodeJS.ProcessEnv;
  let scratch: string;
  const spawned = new Set<ChildProcessWithoutNullStreams>();
  const servers: Server[] = [];

  /** Runs `command` with the CLI's environment (private ORCHARD_HOME, the cluster's URL and admin). */
  function start(command: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Spawned {
    const child = spawn(command, args, {
      env: { ...env, ...extraEnv },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    spawned.add(child);
    const stdout: Buffer[] = [];
    let stderr = '';
    const waiters: { pattern: RegExp; resolve(match: RegExpMatchArray): void }[] = [];
    const check = () => {
      const text = Buffer.concat(stdout).toString('utf8');
      for (const waiter of [...waiters]) {
        const match = waiter.pattern.exec(text);
        if (match) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(match);
        }
      }
    };
    child.stdout.on('data', (chunk: Buffer) => {
      stdout.push(chunk);
      check();
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    // EPIPE when the process exits before reading all we wrote: its exit status tells the story.
    child.stdin.on('error', () => undefined);
    const exited = new Promise<Exited>((resolve) => {
      child.once('error', (error) =>
        resolve({ code: null, signal: null, stdout: Buffer.concat(stdout), stderr: stderr + error.message }),
      );
      child.once('close', (code, signal) => {
        spawned.delete(child);
        resolve({ code, signal, stdout: Buffer.concat(stdout), stderr });
      });
    });
    return {
      child,
      exited,
      stdoutMatches: (pattern) =>
        new Promise((resolve, reject) => {
          waiters.push({ pattern, resolve });
          check();
          void exited.then((result) =>
            reject(
              new Error(
                `${command} exited (${result.code ?? result.signal}) before printing ${pattern}:\n${result.stderr}`,
              ),
            ),
          );
        }),
    };
  }

  const orchard = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) =>
    start(process.execPath, [ORCHARD_BIN, ...args], extraEnv);

  /** `orchard port-forward ...` until its readiness line; resolves with the port it listens on. */
  async function portForward(args: string[]): Promise<{ process: RunningCli; port: number }> {
    const running = cli.start(['port-forward', ...args], orchardEnv);
    const [, port] = await running.waitForLine('stdout', /^Forwarding 127\.0\.0\.1:(\d+) -> \S+$/);
    return { process: running, port: Number(port) };
  }

  /** An echo server on this machine's loopback: what a worker's port-forward reaches. */
  async function localEcho(): Promise<number> {
    const server = createServer({ allowHalfOpen: true }, (socket) => socket.pipe(socket));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  beforeAll(async () => {
    cluster = await startTestCluster({ workers: [{ name: 'tunnel-worker' }] });
    await cluster.client.createVm({ name: VM, image: 'img', username: VM_USER, password: VM_PASSWORD });
    await cluster.waitForVm(VM, (vm) => vm.status === 'running');
    cli = await Cli.create();
    orchardEnv = {
      ORCHARD_URL: cluster.api.url,
      ORCHARD_SERVICE_ACCOUNT_NAME: cluster.api.admin.name,
      ORCHARD_SERVICE_ACCOUNT_TOKEN: cluster.api.admin.token,
    };
    env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ORCHARD_')));
    Object.assign(env, orchardEnv, { ORCHARD_HOME: cli.home, NO_COLOR: '1' });
    scratch = await mkdtemp(join(tmpdir(), 'orchard-cli-tunnel-'));
  });

  afterAll(async () => {
    await cli?.stopAll();
    for (const child of spawned) child.kill('SIGKILL');
    for (const server of servers) server.close();
    await cluster?.close();
  });

  describe('port-forward', () => {
    it("carries 256 MiB each way between a local port and a VM's port intact", async () => {
      const { process: forward, port } = await portForward(['vm', VM, '0:7']);
      const { sent, received } = await echoRoundTrip(await connectTo(port), 256 * MiB);
      expect(received).toBe(sent);
      expect((await forward.stop()).code).toBe(0);
      // 4-10 s on an idle 2-core machine; the margin is for a loaded one.
    }, 180_000);

    it("carries a half-close: a client that ends its side first still gets the whole echo, then the VM's end", async () => {
      const { process: forward, port } = await portForward(['vm', VM, '0:7']);
      const socket = await connectTo(port);
      const data = randomBytes(4 * MiB);
      const received: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      const ended = new Promise<void>((resolve, reject) => {
        socket.once('end', resolve);
        socket.once('error', reject);
      });
      // Everything is written and our side shut down before a byte of the echo is read.
      socket.end(data);
      await ended;
      expect(sha256(Buffer.concat(received))).toBe(sha256(data));
      socket.destroy();
      expect((await forward.stop()).code).toBe(0);
    });

    it('carries 24 concurrent connections of 1 MiB each through one port-forward, all intact', async () => {
      const { process: forward, port } = await portForward(['vm', VM, ':7']);
      const results = await Promise.all(
        Array.from({ length: 24 }, async () => echoRoundTrip(await connectTo(port), MiB)),
      );
      for (const { sent, received } of results) expect(received).toBe(sent);
      expect((await forward.stop()).code).toBe(0);
    });

    it('listens on the local port it is given', async () => {
      const local = await freePort();
      const { process: forward, port } = await portForward(['vm', VM, `${local}:7`]);
      expect(port).toBe(local);
      const { sent, received } = await echoRoundTrip(await connectTo(port), 64 * 1024);
      expect(received).toBe(sent);
      expect((await forward.stop()).code).toBe(0);
    });

    it("reaches a port on the worker host's loopback with port-forward worker", async () => {
      const echoPort = await localEcho();
      const { process: forward, port } = await portForward(['worker', 'tunnel-worker', `0:${echoPort}`]);
      const { sent, received } = await echoRoundTrip(await connectTo(port), MiB);
      expect(received).toBe(sent);
      expect((await forward.stop()).code).toBe(0);
    });

    it("closes a connection whose tunnel cannot be opened, prints the controller's reason once, and keeps listening", async () => {
      const closedPort = await freePort();
      const { process: forward, port } = await portForward(['worker', 'tunnel-worker', `0:${closedPort}`]);
      const socket = await connectTo(port);
      // Closed by the port-forward: our side sees the end of the stream.
      await new Promise((resolve) => socket.once('end', resolve).resume());
      socket.destroy();
      const [line] = await forward.waitForLine('stderr', /^cannot forward a connection.*$/);
      expect(line).toMatch(
        new RegExp(`^cannot forward a connection to worker/tunnel-worker:${closedPort}: .*\\S`),
      );
      // Still listening: the next connection is accepted (and refused the same way).
      const again = await connectTo(port);
      await new Promise((resolve) => again.once('end', resolve).resume());
      again.destroy();
      const result = await forward.stop();
      expect(result.code).toBe(0);
      expect(linesOf(result.stderr)).toHaveLength(2);
    });

    it('exits 1 in one line when the local port is taken', async () => {
      const taken = createServer();
      servers.push(taken);
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      const { port } = taken.address() as AddressInfo;
      const result = await cli.run(['port-forward', 'vm', VM, `${port}:7`], orchardEnv);
      expect(result.code).toBe(1);
      expect(linesOf(result.stderr)).toEqual([
        `Error: cannot listen on 127.0.0.1:${port}: the port is already in use`,
      ]);
    });

    it('closes its listener and open connections on SIGTERM and exits 0', async () => {
      const { process: forward, port } = await portForward(['vm', VM, '0:7']);
      const socket = await connectTo(port);
      const echoed = new Promise((resolve) => socket.once('data', resolve));
      socket.write('ping');
      await echoed;
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.on('error', () => undefined);

      const result = await forward.stop();
      await closed;
      expect(result).toMatchObject({ code: 0, signal: null });
      await expect(connectTo(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    });

    it('carries one connection over stdin and stdout with --stdio, writes nothing else, and exits 0 when stdin ends', async () => {
      const data = randomBytes(4 * MiB);
      const forward = orchard(['port-forward', 'vm', VM, '--stdio', '7']);
      forward.child.stdin.write(data);
      // All of the echo first: Orchard's wire cannot carry stdin's end while the echo is in flight.
      await new Promise<void>((resolve) => {
        let length = 0;
        forward.child.stdout.on('data', (chunk: Buffer) => {
          length += chunk.length;
          if (length >= data.length) resolve();
        });
      });
      forward.child.stdin.end();
      const result = await forward.exited;
      expect(result.code).toBe(0);
      expect(result.stdout.length).toBe(data.length);
      expect(sha256(result.stdout)).toBe(sha256(data));
      expect(result.stderr).toBe('');
    });

    it("exits 1 with the controller's message in one line for a VM that does not exist", async () => {
      const result = await cli.run(['port-forward', 'vm', 'nope', '0:22'], orchardEnv);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(linesOf(result.stderr)).toEqual(['Error: VM "nope" not found']);
    });

    it("exits 1 with the controller's message in one line when --stdio cannot reach the VM", async () => {
      const result = await cli.run(['port-forward', 'vm', 'nope', '--stdio', '22'], orchardEnv);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(linesOf(result.stderr)).toEqual(['Error: VM "nope" not found']);
    });

    it('exits 1 in one line for a worker that does not exist', async () => {
      const result = await cli.run(['port-forward', 'worker', 'nope', '0:22'], orchardEnv);
      expect(result.code).toBe(1);
      expect(linesOf(result.stderr)).toHaveLength(1);
      expect(result.stderr).toMatch(/^Error: .*nope.*not found/i);
    });

    it.each([['1:2:3'], ['22:'], ['0:0'], ['70000'], ['ssh']])(
      'exits 2 (usage) for the port spec %p',
      async (spec) => {
        const result = await cli.run(['port-forward', 'vm', VM, spec], orchardEnv);
        expect(result.code).toBe(2);
        expect(linesOf(result.stderr)).toHaveLength(1);
        expect(result.stderr).toMatch(/^Error: .*port/);
      },
    );

    it('exits 2 (usage) for a --wait that is not a whole number of seconds', async () => {
      const result = await cli.run(['port-forward', 'vm', VM, '0:22', '--wait', 'soon'], orchardEnv);
      expect(result.code).toBe(2);
      expect(linesOf(result.stderr)).toEqual(['Error: --wait "soon" is not a non-negative whole number']);
    });
  });

  describe('ssh', () => {
    it("runs a command with the VM's credentials and exits with its exit status", async () => {
      const result = await cli.run(['ssh', 'vm', VM, 'echo out; echo err >&2; exit 7'], orchardEnv);
      expect(result).toMatchObject({ code: 7, stdout: 'out\n', stderr: 'err\n' });
    });

    it('joins the words after the VM name into one command, options included after --', async () => {
      const result = await cli.run(['ssh', 'vm', VM, '--', 'printf', '%s-%s', '-n', 'x'], orchardEnv);
      expect(result).toMatchObject({ code: 0, stdout: '-n-x' });
    });

    it('exits 128+n when the command is killed by signal n', async () => {
      const result = await cli.run(['ssh', 'vm', VM, 'kill -TERM $$'], orchardEnv);
      expect(result.code).toBe(128 + 15);
    });

    it("feeds stdin to the command and ends it when stdin ends: orchard ssh vm NAME 'sh -s' < script", async () => {
      const script = join(scratch, 'script.sh');
      await writeFile(script, 'echo "script ran as $USER"\nexit 3\n');
      // The shell does the redirection, as a user's would.
      const run = start('sh', [
        '-c',
        `exec "$0" "$1" ssh vm ${VM} 'sh -s' < "$2"`,
        process.execPath,
        ORCHARD_BIN,
        script,
      ]);
      run.child.stdin.end();
      const result = await run.exited;
      expect(result.stdout.toString()).toBe(`script ran as ${VM_USER}\n`);
      expect(result.code).toBe(3);
    });

    it('passes a stream piped to stdin through, byte for byte', async () => {
      const data = randomBytes(2 * MiB);
      const run = orchard(['ssh', 'vm', VM, 'cat']);
      run.child.stdin.end(data);
      const result = await run.exited;
      expect(result.code).toBe(0);
      expect(sha256(result.stdout)).toBe(sha256(data));
    });

    it('opens an interactive shell in a terminal when stdin is one', async () => {
      // util-linux `script` gives the CLI a pseudo-terminal, as a user's terminal would.
      const session = start(
        'script',
        ['-qec', `'${process.execPath}' '${ORCHARD_BIN}' ssh vm ${VM}`, '/dev/null'],
        { TERM: 'xterm-orchard-test' },
      );
      session.child.stdin.write(
        'echo hello-$((6*7)); [ -t 0 ] && echo "tty-$((1+1))"; echo "term=$TERM"; exit\n',
      );
      await session.stdoutMatches(/hello-42/);
      const result = await session.exited;
      session.child.stdin.end();
      const output = result.stdout.toString();
      expect(output).toMatch(/hello-42/);
      expect(output).toMatch(/tty-2/);
      expect(output).toMatch(/term=xterm-orchard-test/);
      expect(result.code).toBe(0);
    });

    it('exits 1 in one line naming the credentials when the login is refused', async () => {
      const result = await cli.run(['ssh', 'vm', VM, '--password', 'wrong', 'true'], orchardEnv);
      expect(result.code).toBe(1);
      expect(linesOf(result.stderr)).toHaveLength(1);
      expect(result.stderr).toMatch(
        /^Error: cannot log in to VM "target" as "builder" \(password from --password/,
      );
    });

    it("exits 1 with the controller's message in one line for a VM that does not exist", async () => {
      const result = await cli.run(['ssh', 'vm', 'nope', 'true'], orchardEnv);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(linesOf(result.stderr)).toEqual(['Error: VM "nope" not found']);
    });

    it('exits 1 saying why when the VM is not running within --wait', async () => {
      await cluster.client.createVm({ name: 'unplaceable', image: 'img', labels: { nowhere: 'true' } });
      const result = await cli.run(['ssh', 'vm', 'unplaceable', '--wait', '1', 'true'], orchardEnv);
      expect(result.code).toBe(1);
      expect(linesOf(result.stderr)).toHaveLength(1);
      expect(result.stderr).toMatch(/^Error: VM "unplaceable" is not running .*gave up waiting/);
    });
  });

  describe('OpenSSH through the CLI', () => {
    /** ssh with the password from an askpass program, no config, no known_hosts. */
    async function openSsh(args: string[]): Promise<Exited> {
      const askpass = join(scratch, 'askpass.sh');
      await writeFile(askpass, `#!/bin/sh\nprintf '%s\\n' '${VM_PASSWORD}'\n`);
      await chmod(askpass, 0o755);
      const ssh = start(
        'ssh',
        [
          '-F',
          '/dev/null',
          '-o',
          'StrictHostKeyChecking=no',
          '-o',
          'UserKnownHostsFile=/dev/null',
          '-o',
          'LogLevel=ERROR',
          '-o',
          'PreferredAuthentications=password',
          '-o',
          'NumberOfPasswordPrompts=1',
          ...args,
        ],
        { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: '' },
      );
      ssh.child.stdin.end();
      return ssh.exited;
    }

    withOpenSsh("logs in with ProxyCommand='orchard port-forward vm %h --stdio 22'", async () => {
      const proxy = `'${process.execPath}' '${ORCHARD_BIN}' port-forward vm %h --stdio 22`;
      const result = await openSsh(['-o', `ProxyCommand=${proxy}`, `${VM_USER}@${VM}`, 'echo ok; exit 5']);
      expect(result.stdout.toString()).toBe('ok\n');
      expect(result.code).toBe(5);
    });

    withOpenSsh('logs in through a port-forward vm NAME 0:22 listener', async () => {
      const { process: forward, port } = await portForward(['vm', VM, '0:22']);
      const result = await openSsh(['-p', String(port), `${VM_USER}@127.0.0.1`, 'echo ok']);
      expect(result.stdout.toString()).toBe('ok\n');
      expect(result.code).toBe(0);
      expect((await forward.stop()).code).toBe(0);
    });
  });

  describe('vnc', () => {
    /** A fake `xdg-open` that tells this test, over TCP, which URL it was asked to open. */
    async function fakeOpener(): Promise<{ bin: string; opened: Promise<string> }> {
      const bin = await mkdtemp(join(scratch, 'bin-'));
      let report!: (url: string) => void;
      const opened = new Promise<string>((resolve) => (report = resolve));
      const server = createServer((socket) => {
        let text = '';
        socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        socket.on('end', () => report(text));
      });
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      const script = [
        `#!${process.execPath}`,
        `require('node:net').connect(${port}, '127.0.0.1', function () { this.end(process.argv[2]); });`,
      ].join('\n');
      await writeFile(join(bin, 'xdg-open'), script);
      await chmod(join(bin, 'xdg-open'), 0o755);
      return { bin, opened };
    }

    it("opens vnc://USER:PASS@127.0.0.1:PORT with the VM's credentials and forwards that port to 5900", async () => {
      const { bin, opened } = await fakeOpener();
      const vnc = cli.start(['vnc', 'vm', VM], { ...orchardEnv, PATH: bin });
      const [, port] = await vnc.waitForLine('stdout', /^Forwarding 127\.0\.0\.1:(\d+) -> vm\/target:5900$/);
      expect(await opened).toBe(`vnc://builder:p%40ss%20w0rd@127.0.0.1:${port}`);
      await vnc.waitForLine('stdout', new RegExp(`^Opening vnc://builder@127\\.0\\.0\\.1:${port} `));
      // The synthetic VM echoes on 5900 where a real one runs Screen Sharing.
      const { sent, received } = await echoRoundTrip(await connectTo(Number(port)), 64 * 1024);
      expect(received).toBe(sent);
      expect((await vnc.stop()).code).toBe(0);
    });

    it('prints the URL when the system has no opener', async () => {
      const empty = await mkdtemp(join(scratch, 'empty-'));
      const vnc = cli.start(['vnc', 'vm', VM, '--username', 'me'], { ...orchardEnv, PATH: empty });
      const [, port] = await vnc.waitForLine('stdout', /^Forwarding 127\.0\.0\.1:(\d+) -> /);
      await vnc.waitForLine(
        'stdout',
        new RegExp(`^Open vnc://me:p%40ss%20w0rd@127\\.0\\.0\\.1:${port} with a VNC client`),
      );
      expect((await vnc.stop()).code).toBe(0);
    });

    it('opens a worker host with only the credentials given on the command line', async () => {
      const { bin, opened } = await fakeOpener();
      const vnc = cli.start(['vnc', 'worker', 'tunnel-worker'], { ...orchardEnv, PATH: bin });
      const [, port] = await vnc.waitForLine(
        'stdout',
        /^Forwarding 127\.0\.0\.1:(\d+) -> worker\/tunnel-worker:5900$/,
      );
      expect(await opened).toBe(`vnc://127.0.0.1:${port}`);
      expect((await vnc.stop()).code).toBe(0);
    });
  });
});
