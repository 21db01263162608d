import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

import type { LoggerService } from '@nestjs/common';

import { isCancellation, RuntimeError } from '../runtime-error.js';
import { CommandRunner } from './command.js';

/** Nest's LoggerService, recording what was logged at which level. */
class RecordingLogger implements LoggerService {
  readonly lines: { level: string; message: string }[] = [];
  log(message: unknown): void {
    this.lines.push({ level: 'log', message: String(message) });
  }
  error(message: unknown): void {
    this.lines.push({ level: 'error', message: String(message) });
  }
  warn(message: unknown): void {
    this.lines.push({ level: 'warn', message: String(message) });
  }
  debug(message: unknown): void {
    this.lines.push({ level: 'debug', message: String(message) });
  }
  at(level: string): string[] {
    return this.lines.filter((line) => line.level === level).map((line) => line.message);
  }
}

const node = process.execPath;

/** A runner whose "tart" is /bin/sh, so each test scripts the command's behaviour. */
function shell(logger = new RecordingLogger()): { runner: CommandRunner; logger: RecordingLogger } {
  return { runner: new CommandRunner({ executable: '/bin/sh', logger }), logger };
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

/**
 * A loopback server a child process connects to once it is ready (its signal handlers set up):
 * the test awaits that connection instead of sleeping, and sees the socket close when it dies.
 */
async function readinessServer(): Promise<{ server: Server; port: number; ready: Promise<Socket> }> {
  const server = createServer();
  const ready = once(server, 'connection').then(([socket]) => socket as Socket);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, ready };
}

describe(CommandRunner.name, () => {
  it('explains how to install tart when it is not in PATH', async () => {
    const runner = new CommandRunner({
      executable: 'tart-not-installed-anywhere',
      logger: new RecordingLogger(),
    });

    const error = await rejection(runner.run(['list', '--format', 'json']));

    expect(error.reason).toBe('not-installed');
    expect(error.message).toBe('tart not found in PATH, install it with brew install cirruslabs/cli/tart');
  });

  it('names the configured path when the executable there is missing', async () => {
    const runner = new CommandRunner({ executable: '/nonexistent/bin/tart', logger: new RecordingLogger() });

    const error = await rejection(runner.run(['list']));

    expect(error.reason).toBe('not-installed');
    expect(error.message).toBe(
      'tart not found at /nonexistent/bin/tart, install it with brew install cirruslabs/cli/tart',
    );
  });

  it('fails with the first non-empty stderr line and keeps the exit code', async () => {
    const { runner, logger } = shell();

    const error = await rejection(
      runner.run(['-c', 'echo progress; echo "   " >&2; echo "disk is full" >&2; echo later >&2; exit 3']),
    );

    expect(error.reason).toBe('command-failed');
    expect(error.message).toBe('tart command failed: "disk is full"');
    expect(error.exitCode).toBe(3);
    expect(error.firstLine).toBe('disk is full');
    expect(logger.at('warn')).toEqual([expect.stringContaining('failed with exit code 3: disk is full')]);
  });

  it('falls back to the first stdout line when stderr is empty', async () => {
    const { runner } = shell();

    const error = await rejection(runner.run(['-c', 'echo "no IP address found"; exit 1']));

    expect(error.message).toBe('tart command failed: "no IP address found"');
  });

  it('says how the command ended when it printed nothing', async () => {
    const { runner } = shell();

    const error = await rejection(runner.run(['-c', 'exit 9']));

    expect(error.message).toBe('tart command failed with exit code 9');
    expect(error.firstLine).toBe('');
  });

  it('passes argv verbatim: spaces, quotes and shell syntax are never interpreted', async () => {
    const runner = new CommandRunner({ executable: node, logger: new RecordingLogger() });
    const args = ['a b', '"double"', "it's", '$HOME', '; echo injected', '*', '', '--dir=name:/p a/th:ro'];

    const { stdout } = await runner.run([
      '-e',
      'process.stdout.write(JSON.stringify(process.argv.slice(1)))',
      ...args,
    ]);

    expect(JSON.parse(stdout)).toEqual(args);
  });

  it('logs the argv at debug before running', async () => {
    const { runner, logger } = shell();

    await runner.run(['-c', 'exit 0', 'with space']);

    expect(logger.at('debug')).toContain('running tart -c "exit 0" "with space"');
  });

  it('returns stdout and stderr of a successful command', async () => {
    const { runner } = shell();

    await expect(runner.run(['-c', 'echo out; echo err >&2'])).resolves.toEqual({
      stdout: 'out\n',
      stderr: 'err\n',
    });
  });

  it('parses JSON output through the caller’s parser', async () => {
    const { runner } = shell();

    const names = await runner.json(['-c', `echo '[{"Name":"a"},{"Name":"b"}]'`], (value) =>
      (value as { Name: string }[]).map((entry) => entry.Name),
    );

    expect(names).toEqual(['a', 'b']);
  });

  it('reports output that is not JSON as a failure', async () => {
    const { runner } = shell();

    const error = await rejection(runner.json(['-c', 'echo "Name Source"'], (value) => value));

    expect(error.reason).toBe('command-failed');
    expect(error.message).toContain('printed invalid JSON');
  });

  it('kills the command on cancellation and rejects with a cancellation that is not logged as a failure', async () => {
    const { server, port, ready } = await readinessServer();
    const logger = new RecordingLogger();
    const runner = new CommandRunner({ executable: node, logger });
    const controller = new AbortController();

    const running = runner.run(['-e', `require('net').connect(${port}, '127.0.0.1')`], controller.signal);
    const socket = await ready;
    const childGone = once(socket, 'close');
    controller.abort();
    const error = await rejection(running);

    expect(error.cancelled).toBe(true);
    expect(isCancellation(error)).toBe(true);
    await childGone;
    expect(logger.at('warn')).toEqual([]);
    expect(logger.at('error')).toEqual([]);
    server.close();
  });

  it('escalates to SIGKILL when a cancelled command ignores SIGINT', async () => {
    const { server, port, ready } = await readinessServer();
    const runner = new CommandRunner({ executable: node, logger: new RecordingLogger(), killGraceMs: 100 });
    const controller = new AbortController();
    const script = `process.on('SIGINT', () => {}); require('net').connect(${port}, '127.0.0.1')`;

    const running = runner.run(['-e', script], controller.signal);
    const socket = await ready;
    controller.abort();

    expect((await rejection(running)).cancelled).toBe(true);
    socket.destroy();
    server.close();
  });

  it('does not start a command whose signal is already aborted', async () => {
    const { runner, logger } = shell();

    const error = await rejection(runner.run(['-c', 'exit 0'], AbortSignal.abort()));

    expect(error.cancelled).toBe(true);
    expect(logger.at('debug')).toEqual([]);
  });

  describe('start', () => {
    it('hands back a running process whose exit reports the first stderr line', async () => {
      const { runner } = shell();

      const child = await runner.start(['-c', 'echo booting; echo "" >&2; echo "VM crashed" >&2; exit 4']);
      const exit = await child.exited;

      expect(exit).toEqual({ code: 4, signal: null, stderrFirstLine: 'VM crashed' });
      expect(child.running).toBe(false);
    });

    it('lets the caller end the process with a signal', async () => {
      const { server, port, ready } = await readinessServer();
      const runner = new CommandRunner({ executable: node, logger: new RecordingLogger() });

      const child = await runner.start(['-e', `require('net').connect(${port}, '127.0.0.1')`]);
      await ready;
      expect(child.running).toBe(true);
      expect(child.kill('SIGTERM')).toBe(true);

      await expect(child.exited).resolves.toEqual({ code: null, signal: 'SIGTERM', stderrFirstLine: '' });
      expect(child.kill('SIGTERM')).toBe(false);
      server.close();
    });

    it('rejects with the install hint when tart is missing', async () => {
      const runner = new CommandRunner({
        executable: 'tart-not-installed-anywhere',
        logger: new RecordingLogger(),
      });

      const error = await rejection(runner.start(['run', 'vm']));

      expect(error.reason).toBe('not-installed');
      expect(error.message).toContain('install it with brew install cirruslabs/cli/tart');
    });
  });
});
