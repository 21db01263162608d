import { createHash } from 'node:crypto';
import { constants } from 'node:os';
import type { Duplex } from 'node:stream';
import type { ReadStream, WriteStream } from 'node:tty';

import ssh2, { type ClientChannel } from 'ssh2';

import { CommandFailedError } from '../common/errors.js';
import type { LoginCredentials } from './credentials.js';

export interface SshSessionOptions {
  /** The tunnel to the VM's port 22. */
  sock: Duplex;
  /** How the VM is named in messages, e.g. `VM "builder"`. */
  peer: string;
  credentials: LoginCredentials;
  /** Run by the VM's shell; undefined opens an interactive shell. */
  command: string | undefined;
  /** $TERM for the remote terminal. */
  term: string;
  debug: (line: string) => void;
}

/** How long the SSH handshake and login may take once the tunnel is open. */
const READY_TIMEOUT_MS = 30_000;

/**
 * One SSH session over `sock` with our stdio, as OpenSSH's client would run it: a command gets
 * stdin (its end sent as EOF), stdout and stderr; no command gets an interactive shell, in a
 * terminal when stdin is one (raw mode, window size and its changes, restored at the end).
 * Resolves with the exit status to leave with: the remote one, or 128+n for a signal.
 */
export async function runSshSession(options: SshSessionOptions): Promise<number> {
  const client = new ssh2.Client();
  try {
    await login(client, options);
    const stdin = process.stdin;
    const terminal = options.command === undefined && stdin.isTTY ? (stdin as ReadStream) : null;
    const session = await openChannel(client, options, terminal);
    return await (terminal ? interactive(session, terminal) : piped(session));
  } finally {
    client.end();
  }
}

function login(client: ssh2.Client, options: SshSessionOptions): Promise<void> {
  const { username, password, source } = options.credentials;
  return new Promise((resolve, reject) => {
    let ready = false;
    client.once('ready', () => {
      ready = true;
      resolve();
    });
    // Errors after the login surface through the channel (it closes without an exit status).
    client.on('error', (error: Error & { level?: string }) => {
      if (ready) return options.debug(`ssh: ${error.message}`);
      const why =
        error.level === 'client-authentication'
          ? `cannot log in to ${options.peer} as "${username}" (password from ${source}): ${error.message}`
          : `SSH connection to ${options.peer} failed: ${error.message}`;
      reject(new CommandFailedError(why));
    });
    // macOS's sshd asks for the password through keyboard-interactive.
    client.on('keyboard-interactive', (_name, _instructions, _language, prompts, finish) =>
      finish(prompts.map(() => password)),
    );
    client.connect({
      sock: options.sock,
      username,
      password,
      tryKeyboard: true,
      readyTimeout: READY_TIMEOUT_MS,
      // Accepted as is, as Orchard's CLI does: the tunnel is authenticated by the controller.
      hostVerifier: (key: Buffer) => {
        const fingerprint = createHash('sha256').update(key).digest('base64').replace(/=+$/, '');
        options.debug(`host key of ${options.peer}: SHA256:${fingerprint}`);
        return true;
      },
    });
  });
}

/** A session channel whose exit status is being listened for. */
interface Session {
  channel: ClientChannel;
  /** The exit status to leave with, once the channel has closed. */
  status: Promise<number>;
}

function openChannel(
  client: ssh2.Client,
  options: SshSessionOptions,
  terminal: ReadStream | null,
): Promise<Session> {
  return new Promise((resolve, reject) => {
    const done = (error: Error | undefined, channel: ClientChannel) => {
      if (error)
        return reject(new CommandFailedError(`cannot start a session on ${options.peer}: ${error.message}`));
      // Listening from here on: a quick command's exit status may arrive before a promise
      // continuation runs, and an event nobody listens to is gone.
      resolve({ channel, status: exitStatus(channel) });
    };
    if (options.command !== undefined) {
      client.exec(options.command, done);
    } else if (terminal) {
      const { columns, rows } = windowSize();
      client.shell({ term: options.term, cols: columns, rows }, done);
    } else {
      client.shell(false, done);
    }
  });
}

/** Resolves with the exit status (128+n for signal n) when the channel closes. */
function exitStatus(channel: ClientChannel): Promise<number> {
  let status: number | undefined;
  channel.on('exit', (code: number | null, signal?: string) => {
    if (code !== null) status = code;
    // ssh2 names the signal as Node does ("SIGTERM"); the wire says "TERM".
    else if (signal)
      status = 128 + (constants.signals[signal.replace(/^(SIG)?/, 'SIG') as NodeJS.Signals] ?? 0);
  });
  return new Promise((resolve, reject) => {
    channel.once('close', () => {
      if (status !== undefined) resolve(status);
      else reject(new CommandFailedError('the SSH session ended without an exit status'));
    });
  });
}

/** The terminal's size from stdout, or the classic 80x24 when stdout is not a terminal. */
function windowSize(): { columns: number; rows: number } {
  const stdout = process.stdout as Partial<WriteStream>;
  return { columns: stdout.columns || 80, rows: stdout.rows || 24 };
}

/** Output passed through; resolves with the exit status when the channel closes. */
function outcome({ channel, status }: Session): Promise<number> {
  channel.pipe(process.stdout, { end: false });
  channel.stderr.pipe(process.stderr, { end: false });
  return status;
}

/** Stdin piped into the channel; its end becomes the channel's EOF (`sh -s < script`). */
async function piped(session: Session): Promise<number> {
  const { channel } = session;
  const stdin = process.stdin;
  stdin.pipe(channel);
  try {
    return await outcome(session);
  } finally {
    stdin.unpipe(channel);
    // A command can end before its input does: stop reading, or stdin keeps the process alive.
    stdin.destroy();
  }
}

/** A terminal in raw mode: keys go to the remote terminal as typed, Ctrl-C included. */
async function interactive(session: Session, terminal: ReadStream): Promise<number> {
  const { channel } = session;
  const onResize = () => {
    const { columns, rows } = windowSize();
    channel.setWindow(rows, columns, 0, 0);
  };
  terminal.setRawMode(true);
  process.stdout.on('resize', onResize);
  terminal.pipe(channel);
  try {
    return await outcome(session);
  } finally {
    terminal.unpipe(channel);
    process.stdout.off('resize', onResize);
    terminal.setRawMode(false);
    terminal.pause();
  }
}
