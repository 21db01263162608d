import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { constants } from 'node:os';

import type { LoggerService } from '@nestjs/common';
import ssh2, { type Connection, type Session } from 'ssh2';

import { RuntimeError } from '../runtime-error.js';
import { runInChannel, type GuestProcess, type PtyModule } from './guest-process.js';

export interface SyntheticGuestOptions {
  name: string;
  /** The VM's private directory: every command runs there, and it is the guest's HOME. */
  dir: string;
  username: string;
  password: string;
  /** The runtime's host key (OpenSSH format), the same for all its VMs. */
  hostKey: string;
  /** Loads node-pty on first use; null when it cannot be loaded. */
  loadPty: () => Promise<PtyModule | null>;
  logger: LoggerService;
}

/** What a guest's commands find in PATH: sshd's default, not the worker's environment. */
const GUEST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * One boot of a synthetic VM: port 22 is a real SSH server, every other port echoes.
 *
 * How connect() reaches a service without privileged ports: each service this guest is asked
 * for gets its own listener on 127.0.0.1:0, opened on first use, and the runtime dials it. So a
 * connection is a real TCP socket pair (kernel buffers, backpressure, half-close all real),
 * there is one code path for SSH and echo, and halting the guest is: close the listeners,
 * destroy the sockets, kill the processes. The SSH listener hands its sockets to an ssh2 Server
 * that never listens itself (server.injectSocket).
 */
export class SyntheticGuest {
  private readonly listeners = new Map<number, Promise<Server>>();
  private readonly sockets = new Map<Socket, Promise<unknown>>();
  private readonly processes = new Set<GuestProcess>();
  private readonly ssh: ssh2.Server;
  private halted = false;

  constructor(private readonly options: SyntheticGuestOptions) {
    this.ssh = new ssh2.Server({ hostKeys: [options.hostKey] }, (client) => this.onSshClient(client));
  }

  /** The loopback port serving this guest's `port`; listens on first use. */
  async servicePort(port: number): Promise<number> {
    if (this.halted) throw new RuntimeError('vm-not-running', `VM "${this.options.name}" is not running`);
    let listener = this.listeners.get(port);
    if (!listener) {
      listener =
        port === 22 ? this.listen(false, (socket) => this.ssh.injectSocket(socket)) : this.listen(true, echo);
      this.listeners.set(port, listener);
    }
    return ((await listener).address() as AddressInfo).port;
  }

  /**
   * Powers the guest off: closes every listener, resets every connection, kills every process;
   * resolves once all are gone.
   */
  async halt(): Promise<void> {
    this.halted = true;
    const listeners = await Promise.allSettled(this.listeners.values());
    const closing: Promise<unknown>[] = [];
    for (const result of listeners) {
      if (result.status === 'fulfilled') closing.push(new Promise((resolve) => result.value.close(resolve)));
    }
    for (const guest of this.processes) {
      guest.signal('SIGKILL');
      closing.push(guest.ended);
    }
    for (const [socket, closed] of this.sockets) {
      // A VM that powers off does not say goodbye: its peers see a reset, not an orderly end.
      socket.resetAndDestroy();
      closing.push(closed);
    }
    await Promise.all(closing);
  }

  private listen(allowHalfOpen: boolean, serve: (socket: Socket) => void): Promise<Server> {
    const server = createServer({ allowHalfOpen, noDelay: true }, (socket) => {
      if (this.halted) {
        socket.destroy();
        return;
      }
      const closed = new Promise((resolve) => socket.once('close', resolve));
      this.sockets.set(socket, closed);
      void closed.then(() => this.sockets.delete(socket));
      serve(socket);
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve(server);
      });
    });
  }

  private onSshClient(client: Connection): void {
    // Resets and handshake failures end that one connection; nothing to report.
    client.on('error', (error: Error) => {
      this.options.logger.debug?.(`${this.options.name} ssh: ${error.message}`);
    });
    client.on('authentication', (context) => {
      if (context.method === 'password' && this.credentialsMatch(context.username, context.password)) {
        context.accept();
      } else {
        context.reject(['password']);
      }
    });
    client.on('ready', () => {
      client.on('session', (accept) => this.onSession(accept()));
    });
  }

  private credentialsMatch(username: string, password: string): boolean {
    const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
    // Both compared, in constant time, so neither leaks through timing.
    const userOk = timingSafeEqual(digest(username), digest(this.options.username));
    const passwordOk = timingSafeEqual(digest(password), digest(this.options.password));
    return userOk && passwordOk;
  }

  private onSession(session: Session): void {
    let terminal: { term: string; cols: number; rows: number } | null = null;
    const env: Record<string, string> = {};
    let guest: GuestProcess | null = null;

    // ssh2 passes no accept/reject when the client wants no reply, hence the optional calls.
    session.on('pty', (accept, _reject, info) => {
      terminal = { term: info.term, cols: info.cols, rows: info.rows };
      accept?.();
    });
    session.on('window-change', (accept, _reject, info) => {
      if (terminal) terminal = { ...terminal, cols: info.cols, rows: info.rows };
      guest?.resize(info.cols, info.rows);
      accept?.();
    });
    session.on('env', (accept, _reject, info) => {
      env[info.key] = info.val;
      accept?.();
    });
    session.on('signal', (accept, _reject, info) => {
      const name = `SIG${info.name.replace(/^SIG/, '')}`;
      if (name in constants.signals) guest?.signal(name as NodeJS.Signals);
      accept?.();
    });
    const start = async (accept: () => ssh2.ServerChannel, command: string | undefined): Promise<void> => {
      const pty = terminal ? await this.options.loadPty() : null;
      if (this.halted) return;
      const channel = accept();
      guest = runInChannel(channel, {
        command,
        cwd: this.options.dir,
        env: this.guestEnv(env, terminal),
        terminal,
        pty,
      });
      const started = guest;
      this.processes.add(started);
      void started.ended.finally(() => this.processes.delete(started));
    };
    session.on('exec', (accept, _reject, info) => void start(accept, info.command));
    session.on('shell', (accept) => void start(accept, undefined));
    session.on('subsystem', (_accept, reject) => reject?.());
    session.on('sftp', (_accept, reject) => reject?.());
  }

  private guestEnv(
    requested: Record<string, string>,
    terminal: { term: string } | null,
  ): Record<string, string> {
    return {
      ...requested,
      HOME: this.options.dir,
      USER: this.options.username,
      LOGNAME: this.options.username,
      SHELL: '/bin/sh',
      PATH: GUEST_PATH,
      ...(terminal ? { TERM: terminal.term || 'xterm' } : {}),
    };
  }
}

function echo(socket: Socket): void {
  socket.on('error', () => socket.destroy());
  // pipe() honours backpressure and, the socket being half-open, ends our side only after the
  // client ended theirs and every byte has been echoed.
  socket.pipe(socket);
}
