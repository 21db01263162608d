import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { access } from 'node:fs/promises';
import type { Duplex } from 'node:stream';

import type { LoggerService } from '@nestjs/common';
import ssh2, { type ClientChannel, type PseudoTtyOptions } from 'ssh2';

import { RuntimeError } from '../apps/worker/src/runtime/runtime-error.js';
import { SyntheticRuntime } from '../apps/worker/src/runtime/synthetic/synthetic.runtime.js';
import type { VmRunOptions } from '../apps/worker/src/runtime/vm-runtime.js';

/** The synthetic runtime seen from outside: a real ssh2 Client and real sockets via connect(). */
class QuietLogger implements LoggerService {
  readonly warnings: string[] = [];
  log(): void {}
  error(): void {}
  debug(): void {}
  warn(message: unknown): void {
    this.warnings.push(String(message));
  }
}

const runOptions = (overrides: Partial<VmRunOptions> = {}): VmRunOptions => ({
  netSoftnet: false,
  netSoftnetAllow: [],
  netSoftnetBlock: [],
  netBridged: '',
  headless: true,
  nested: false,
  suspendable: false,
  hostDirs: [],
  username: 'ci',
  password: 's3cret',
  ...overrides,
});

interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

async function rejection(promise: Promise<unknown>): Promise<RuntimeError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(RuntimeError);
    return error as RuntimeError;
  }
  throw new Error('expected a rejection');
}

/** Collects a channel's output until it closes, with the exit status it reported. */
function collect(stream: ClientChannel): Promise<ExecResult> {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  let code: number | null = null;
  let signal: string | null = null;
  stream.on('data', (chunk: Buffer) => stdout.push(chunk));
  stream.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  stream.on('exit', (exitCode: number | null, exitSignal?: string) => {
    code = exitCode;
    signal = exitSignal ?? null;
  });
  return new Promise((resolve) =>
    stream.on('close', () =>
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString(),
        stderr: Buffer.concat(stderr).toString(),
      }),
    ),
  );
}

/** Resolves once the channel's output so far contains `text`. */
function outputContaining(stream: ClientChannel, text: string, seen: { text: string }): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (!seen.text.includes(text)) return;
      stream.off('data', onData);
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      seen.text += chunk.toString();
      check();
    };
    stream.on('data', onData);
    check();
  });
}

describe(SyntheticRuntime.name, () => {
  let runtime: SyntheticRuntime;
  let logger: QuietLogger;
  const clients: ssh2.Client[] = [];

  /** An SSH client over the Duplex that connect(vm, 22) hands back; resolves once authenticated. */
  async function ssh(
    vm: string,
    credentials = { username: 'ci', password: 's3cret' },
    hostVerifier?: (key: Buffer) => boolean,
  ): Promise<ssh2.Client> {
    const sock = await runtime.connect(vm, 22);
    // connect() hands back a half-open-capable stream; ssh2 expects a socket that closes when the
    // server ends, so end our side in turn, as a plain socket would.
    sock.once('end', () => sock.end());
    const client = new ssh2.Client();
    clients.push(client);
    const ready = new Promise<void>((resolve, reject) => {
      client.once('ready', resolve).once('error', reject);
    });
    // A connection the VM drops (stop, dispose, failed auth) may also reset: expected here.
    client.on('error', () => undefined);
    client.connect({ sock, ...credentials, hostVerifier, readyTimeout: 10_000 });
    await ready;
    return client;
  }

  /** Resolves once the command runs, with its channel. */
  function started(client: ssh2.Client, command: string, pty: PseudoTtyOptions | false = false) {
    return new Promise<ClientChannel>((resolve, reject) =>
      client.exec(command, { pty }, (error, stream) => (error ? reject(error) : resolve(stream))),
    );
  }

  function exec(
    client: ssh2.Client,
    command: string,
    options: { pty?: PseudoTtyOptions; stdin?: string } = {},
  ): Promise<ExecResult> {
    // Collect inside the callback, not after an await: a quick command's output and exit status
    // can arrive in the same packet batch as the channel, before a continuation would listen.
    return new Promise((resolve, reject) =>
      client.exec(command, { pty: options.pty ?? false }, (error, stream) => {
        if (error) return reject(error);
        collect(stream).then(resolve, reject);
        if (options.stdin !== undefined) stream.end(options.stdin);
      }),
    );
  }

  function shell(client: ssh2.Client, window: PseudoTtyOptions): Promise<ClientChannel> {
    return new Promise((resolve, reject) =>
      client.shell(window, (error, stream) => (error ? reject(error) : resolve(stream))),
    );
  }

  async function startVm(name = 'vm', options = runOptions()) {
    await runtime.clone('ghcr.io/cirruslabs/macos-sonoma-base:latest', name);
    return runtime.run(name, options);
  }

  beforeEach(() => {
    logger = new QuietLogger();
    runtime = new SyntheticRuntime({ logger });
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.end();
    await runtime.dispose();
  });

  describe('SSH on port 22', () => {
    it('lets in the VM’s user with its password', async () => {
      await startVm();

      const client = await ssh('vm');

      expect(await exec(client, 'echo ok')).toEqual({ code: 0, signal: null, stdout: 'ok\n', stderr: '' });
    });

    it('refuses a wrong password', async () => {
      await startVm();

      await expect(ssh('vm', { username: 'ci', password: 'wrong' })).rejects.toMatchObject({
        level: 'client-authentication',
      });
    });

    it('takes admin/admin when the VM has no credentials', async () => {
      await startVm('vm', runOptions({ username: '', password: '' }));

      await expect(ssh('vm', { username: 'ci', password: 's3cret' })).rejects.toMatchObject({
        level: 'client-authentication',
      });
      const client = await ssh('vm', { username: 'admin', password: 'admin' });
      expect((await exec(client, 'echo $USER')).stdout).toBe('admin\n');
    });

    it('presents the same host key on every VM of a runtime', async () => {
      await startVm('a');
      await startVm('b');
      const seen: Buffer[] = [];
      const record = (key: Buffer): boolean => {
        seen.push(key);
        return true;
      };

      await ssh('a', undefined, record);
      await ssh('b', undefined, record);

      const published = ssh2.utils.parseKey(runtime.hostPublicKey);
      if (published instanceof Error) throw published;
      expect(seen).toEqual([published.getPublicSSH(), published.getPublicSSH()]);
    });

    it('passes a command’s exit status back', async () => {
      await startVm();
      const client = await ssh('vm');

      expect((await exec(client, 'exit 7')).code).toBe(7);
    });

    it('runs commands with /bin/sh in the VM’s own directory', async () => {
      await startVm('a');
      await startVm('b');
      const a = await ssh('a');
      const b = await ssh('b');

      const [shell0, cwd, home] = (await exec(a, 'echo $0; pwd; echo $HOME')).stdout.trim().split('\n');
      await exec(a, 'echo hello > marker');

      expect(shell0).toBe('/bin/sh');
      expect(cwd).toBe(home);
      expect((await exec(a, 'cat marker')).stdout).toBe('hello\n');
      expect((await exec(b, 'pwd')).stdout.trim()).not.toBe(cwd);
      expect((await exec(b, 'ls')).stdout).toBe('');
    });

    it('keeps stdout and stderr apart', async () => {
      await startVm();
      const client = await ssh('vm');

      expect(await exec(client, 'echo out; echo err >&2; exit 2')).toEqual({
        code: 2,
        signal: null,
        stdout: 'out\n',
        stderr: 'err\n',
      });
    });

    it('feeds stdin to the command, end of input included', async () => {
      await startVm();
      const client = await ssh('vm');

      const result = await exec(client, 'sh -s', { stdin: 'echo from-stdin\nexit 3\n' });

      expect(result).toMatchObject({ code: 3, stdout: 'from-stdin\n' });
      expect((await exec(client, 'wc -c', { stdin: 'x'.repeat(100_000) })).stdout.trim()).toBe('100000');
    });

    it('reports a command killed by a signal', async () => {
      await startVm();
      const client = await ssh('vm');

      expect(await exec(client, 'kill -TERM $$')).toMatchObject({ code: null, signal: 'SIGTERM' });
    });

    it('runs a command in a terminal when the client asks for one', async () => {
      await startVm();
      const client = await ssh('vm');

      const withPty = await exec(client, 'tty; stty size', { pty: { rows: 30, cols: 100, term: 'xterm' } });
      const withoutPty = await exec(client, 'tty');

      expect(withPty.code).toBe(0);
      expect(withPty.stdout).toMatch(/^\/dev\/pts\/\d+\r\n30 100\r\n$/);
      expect(withoutPty.stdout).toBe('not a tty\n');
    });

    it('gives an interactive shell a terminal that follows window changes', async () => {
      await startVm();
      const client = await ssh('vm');
      const stream = await shell(client, { rows: 24, cols: 80, term: 'xterm-256color' });
      const done = collect(stream);
      const seen = { text: '' };

      stream.write('stty size; echo "$TERM" done-$((6*7))\n');
      await outputContaining(stream, 'done-42', seen);
      stream.setWindow(40, 120, 0, 0);
      stream.write('stty size; echo resized-$((6*7))\n');
      await outputContaining(stream, 'resized-42', seen);
      stream.write('exit 5\n');

      expect((await done).code).toBe(5);
      expect(seen.text).toContain('24 80\r\nxterm-256color done-42');
      expect(seen.text).toContain('40 120\r\nresized-42');
    });
  });

  describe('every other port', () => {
    async function echoed(socket: Duplex, payload: Buffer): Promise<Buffer> {
      const received: Buffer[] = [];
      const reading = (async () => {
        for await (const chunk of socket) received.push(chunk as Buffer);
      })();
      for (let offset = 0; offset < payload.length; offset += 64 * 1024) {
        if (!socket.write(payload.subarray(offset, offset + 64 * 1024))) await once(socket, 'drain');
      }
      socket.end();
      await reading;
      return Buffer.concat(received);
    }

    it('echoes 8 MiB of random bytes intact', async () => {
      await startVm();
      const payload = randomBytes(8 * 1024 * 1024);

      const back = await echoed(await runtime.connect('vm', 5900), payload);

      expect(back.length).toBe(payload.length);
      expect(createHash('sha256').update(back).digest('hex')).toBe(
        createHash('sha256').update(payload).digest('hex'),
      );
    });

    it('ends the echo after flushing once the client ends its side', async () => {
      await startVm();
      const socket = await runtime.connect('vm', 8080);

      socket.write('half');
      socket.end('-closed');
      const chunks: Buffer[] = [];
      for await (const chunk of socket) chunks.push(chunk as Buffer);

      expect(Buffer.concat(chunks).toString()).toBe('half-closed');
    });
  });

  describe('lifecycle', () => {
    it('refuses a connection to a VM that is not running, at once', async () => {
      await runtime.clone('image', 'cloned');
      await startVm();
      await runtime.stop('vm', 5);
      const started = performance.now();

      const notRunning = await rejection(runtime.connect('vm', 22));
      const neverStarted = await rejection(runtime.connect('cloned', 22));
      const unknown = await rejection(runtime.connect('nope', 22));

      expect(notRunning.reason).toBe('vm-not-running');
      expect(neverStarted.reason).toBe('vm-not-running');
      expect(unknown.reason).toBe('vm-not-found');
      expect(performance.now() - started).toBeLessThan(1000);
    });

    it('stops a VM: its sessions end and its exit is deliberate', async () => {
      const running = await startVm();
      const client = await ssh('vm');
      const clientClosed = closed(client);
      const sleeping = collect(await started(client, 'sleep 600'));

      await runtime.stop('vm', 5);

      expect(await running.exited).toEqual({ code: 0, signal: null, deliberate: true, stderrFirstLine: '' });
      await clientClosed;
      // The session ended with the VM, without an exit status, as when a real VM powers off.
      expect((await sleeping).code).toBeNull();
      expect(await runtime.list()).toEqual([
        { name: 'vm', source: 'local', state: 'stopped', running: false },
      ]);
    });

    it('suspends a VM and runs it again', async () => {
      const first = await startVm();

      await runtime.suspend('vm');

      expect((await first.exited).deliberate).toBe(true);
      expect(await runtime.list()).toEqual([
        { name: 'vm', source: 'local', state: 'suspended', running: false },
      ]);
      await runtime.run('vm', runOptions());
      const client = await ssh('vm');
      expect((await exec(client, 'echo back')).stdout).toBe('back\n');
    });

    it('reports 127.0.0.1 as the IP, waiting for the VM to start', async () => {
      await runtime.clone('image', 'vm');

      const waiting = runtime.ip('vm', 30);
      await runtime.run('vm', runOptions());

      expect(await waiting).toBe('127.0.0.1');
      await runtime.stop('vm', 5);
      expect((await rejection(runtime.ip('vm', 0))).reason).toBe('vm-not-running');
    });

    it('deletes a VM with its directory', async () => {
      await startVm();
      const client = await ssh('vm');
      const dir = (await exec(client, 'pwd')).stdout.trim();

      await runtime.delete('vm');

      await expect(access(dir)).rejects.toMatchObject({ code: 'ENOENT' });
      expect(await runtime.list()).toEqual([]);
      expect((await rejection(runtime.stop('vm', 5))).reason).toBe('vm-not-found');
    });

    it('clones, resolves and configures at once, deterministically', async () => {
      const image = 'ghcr.io/cirruslabs/macos-sonoma-base:latest';

      await runtime.pull(image);
      await runtime.clone(image, 'vm');
      await runtime.configure('vm', { cpu: 4, memoryMib: 8192, diskSizeGb: 50, randomSerial: true });

      expect(await runtime.fqn(image)).toBe(await new SyntheticRuntime({ logger }).fqn(image));
      expect(await runtime.fqn(image)).toMatch(
        /^ghcr\.io\/cirruslabs\/macos-sonoma-base@sha256:[0-9a-f]{64}$/,
      );
      expect((await rejection(runtime.clone(image, 'vm'))).message).toBe(
        'the specified VM "vm" already exists',
      );
    });

    it('closes every server, connection, terminal and process on dispose', async () => {
      const baseline = openHandles();
      await startVm();
      const client = await ssh('vm');
      const clientClosed = closed(client);
      const terminal = await shell(client, { rows: 24, cols: 80, term: 'xterm' });
      const seen = { text: '' };
      terminal.write('echo ready-$((1+1))\n');
      await outputContaining(terminal, 'ready-2', seen);
      const sleeping = collect(await started(client, 'sleep 600'));
      const echo = await runtime.connect('vm', 7);
      echo.on('error', () => undefined);
      const echoClosed = closed(echo);
      const dir = (await exec(client, 'pwd')).stdout.trim();

      await runtime.dispose();
      await Promise.all([clientClosed, echoClosed, sleeping]);

      expect(openHandles()).toEqual(baseline);
      await expect(access(dir)).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(runtime.clone('image', 'again')).rejects.toThrow('disposed');
    });
  });
});

/** Resolves on 'close', whatever errors come before it (a powered-off VM resets its connections). */
function closed(emitter: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) => emitter.once('close', () => resolve()));
}

/** Sockets, servers, child processes, pipes and terminals this process holds, by kind. */
function openHandles(): Record<string, number> {
  const kinds = ['TCPSocketWrap', 'TCPServerWrap', 'ProcessWrap', 'PipeWrap', 'TTYWrap'];
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) {
    if (kinds.includes(kind)) counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}
