import { spawn } from 'node:child_process';
import { constants } from 'node:os';

import type * as NodePty from 'node-pty';
import type { ServerChannel } from 'ssh2';

export type PtyModule = typeof NodePty;

/** How a guest process ended, as SSH reports it: an exit code, or a signal name without "SIG". */
export interface GuestExit {
  code: number | null;
  signal: string | null;
}

/** A process a synthetic VM runs for one SSH session (`exec` or `shell`). */
export interface GuestProcess {
  /** Settles when the process has ended and its output has been handed to the channel. */
  readonly ended: Promise<GuestExit>;
  resize(cols: number, rows: number): void;
  /** Signals the process and everything it started; a no-op once it has ended. */
  signal(signal: NodeJS.Signals): void;
}

export interface GuestProcessOptions {
  /** Run by `/bin/sh -c`; undefined runs the shell itself. */
  command: string | undefined;
  cwd: string;
  env: Record<string, string>;
  /** The terminal the client asked for with a pty-req, if any. */
  terminal: { term: string; cols: number; rows: number } | null;
  /** node-pty when it loaded; without it a session that asked for a terminal gets pipes. */
  pty: PtyModule | null;
}

/**
 * Runs `/bin/sh -c COMMAND` (or `/bin/sh`) with the SSH channel as its stdio, the way sshd does:
 * in a real pseudo-terminal when the client asked for one, with pipes (stdout and stderr apart,
 * backpressure both ways, stdin EOF passed on) otherwise. When the process ends its exit status
 * (or signal) is sent after the last byte of output, then the channel is closed. A channel the
 * client closes first takes the process down with it.
 */
export function runInChannel(channel: ServerChannel, options: GuestProcessOptions): GuestProcess {
  const guest =
    options.terminal && options.pty
      ? startInTerminal(channel, options, options.pty, options.terminal)
      : startWithPipes(channel, options);
  channel.once('close', () => guest.signal('SIGKILL'));
  void guest.ended.then((exit) => reportExit(channel, exit));
  return guest;
}

const shellArgs = (command: string | undefined): string[] => (command === undefined ? [] : ['-c', command]);

function startWithPipes(channel: ServerChannel, options: GuestProcessOptions): GuestProcess {
  // detached: its own process group, so that ending the session also ends what it started.
  const child = spawn('/bin/sh', shellArgs(options.command), {
    cwd: options.cwd,
    env: options.env,
    stdio: 'pipe',
    detached: true,
  });
  let closed = false;
  // EPIPE when the process exits without reading all of its input: not our error to report.
  child.stdin.on('error', () => undefined);
  channel.pipe(child.stdin);
  child.stdout.pipe(channel, { end: false });
  child.stderr.pipe(channel.stderr, { end: false });

  const ended = new Promise<GuestExit>((resolve) => {
    child.once('error', (error) => {
      closed = true;
      channel.stderr.write(`sh: ${error.message}\n`);
      resolve({ code: 127, signal: null });
    });
    // 'close' comes after stdout and stderr have ended, so all output is in the channel by then.
    child.once('close', (code, signal) => {
      closed = true;
      channel.unpipe(child.stdin);
      resolve({ code, signal: signal ? signal.replace(/^SIG/, '') : null });
    });
  });

  return {
    ended,
    resize: () => undefined,
    signal: (signal) => {
      if (closed || child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // The group is already gone.
      }
    },
  };
}

/**
 * In a terminal, input EOF from the client is not passed on (sshd does not either; a terminal
 * has no half-close). Known limit: on Linux, output still buffered in the pty when its last
 * process exits can be cut short if it is large (the kernel answers EIO once the slave side is
 * gone); sshd avoids that by holding the slave open, node-pty cannot. Interactive use and small
 * outputs are unaffected; commands that stream much data should be run without a pty.
 */
function startInTerminal(
  channel: ServerChannel,
  options: GuestProcessOptions,
  pty: PtyModule,
  terminal: { term: string; cols: number; rows: number },
): GuestProcess {
  const term = pty.spawn('/bin/sh', shellArgs(options.command), {
    name: terminal.term || 'xterm',
    cols: terminal.cols || 80,
    rows: terminal.rows || 24,
    cwd: options.cwd,
    env: options.env,
  });
  let exited = false;
  let paused = false;
  term.onData((data) => {
    if (channel.write(data) || paused) return;
    // The client is slower than the program: stop reading the terminal until the channel drains.
    paused = true;
    term.pause();
    channel.once('drain', () => {
      paused = false;
      term.resume();
    });
  });
  channel.on('data', (data: Buffer) => {
    if (!exited) term.write(data);
  });

  const ended = new Promise<GuestExit>((resolve) => {
    term.onExit(({ exitCode, signal }) => {
      exited = true;
      resolve(signal ? { code: null, signal: signalName(signal) } : { code: exitCode, signal: null });
    });
  });

  return {
    ended,
    resize: (cols, rows) => {
      if (exited) return;
      try {
        term.resize(cols, rows);
      } catch {
        // The terminal closed between the check and the ioctl.
      }
    },
    signal: (signal) => {
      if (exited) return;
      try {
        // The shell leads its terminal's session and process group.
        process.kill(-term.pid, signal);
      } catch {
        term.kill(signal);
      }
    },
  };
}

/**
 * Sends the exit status, then ends the channel: end() flushes the output still queued before
 * EOF and CLOSE, and clients wait for CLOSE, so nothing written before is lost. (Waiting for
 * zero-length writes to drain first lost the status now and then under load: by the time the
 * barrier fired the channel could no longer send it.)
 */
function reportExit(channel: ServerChannel, exit: GuestExit): void {
  if (exit.signal) channel.exit(exit.signal, false, '');
  else channel.exit(exit.code ?? 0);
  channel.end();
}

function signalName(signal: number): string {
  const entry = Object.entries(constants.signals).find(([, number]) => number === signal);
  return entry ? entry[0].replace(/^SIG/, '') : String(signal);
}
