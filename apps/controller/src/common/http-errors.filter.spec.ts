import { createServer, type Server, type Socket } from 'node:net';

import { Logger } from '@nestjs/common';
import pg from 'pg';

import { OrchardError } from '#api';

import { describeError } from './http-errors.filter.js';

/** A quiet logger that remembers what it was told. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger = new Logger('test') as Logger & { lines: string[] };
  logger.lines = lines;
  logger.warn = (message: unknown) => void lines.push(`warn ${String(message)}`);
  logger.error = (message: unknown) => void lines.push(`error ${String(message)}`);
  return logger;
}

/** What node-postgres really throws when `queries` queries cannot get a connection. */
async function pgFailures(port: number, queries = 1, connectionTimeoutMillis = 0): Promise<unknown[]> {
  const pool = new pg.Pool({
    host: '127.0.0.1',
    port,
    user: 'u',
    database: 'd',
    max: 1,
    connectionTimeoutMillis,
  });
  try {
    return await Promise.all(
      Array.from({ length: queries }, () =>
        pool.query('SELECT 1').then(
          () => new Error('the query should have failed'),
          (error: unknown) => error,
        ),
      ),
    );
  } finally {
    await pool.end().catch(() => undefined);
  }
}

describe('describeError', () => {
  it('maps an OrchardError to its status and keeps its message', () => {
    expect(describeError(new OrchardError('not-found', 'VM "x" not found'), recordingLogger())).toEqual({
      status: 404,
      message: 'VM "x" not found',
    });
  });

  it('answers 500 with an id for an unexpected error and logs it with that id', () => {
    const logger = recordingLogger();
    const { status, message } = describeError(new TypeError('x is undefined'), logger);
    expect(status).toBe(500);
    const id = /id ([0-9a-f-]{36})/.exec(message)?.[1];
    expect(id).toBeDefined();
    expect(logger.lines.some((line) => line.startsWith('error') && line.includes(id as string))).toBe(true);
  });

  describe('when the database cannot serve the request', () => {
    let silent: Server;
    const held: Socket[] = [];
    let silentPort: number;
    let closedPort: number;

    beforeAll(async () => {
      // Accepts connections and never answers: a server too busy to take one more.
      silent = createServer((socket) => held.push(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      silentPort = (silent.address() as { port: number }).port;
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      closedPort = (closed.address() as { port: number }).port;
      await new Promise((resolve) => closed.close(resolve));
    });

    afterAll(async () => {
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });

    it('answers 503, not 500, when no connection is made or frees up in time', async () => {
      const logger = recordingLogger();
      // One query waits for the connection to be made, the other for the pool's only slot.
      const errors = await pgFailures(silentPort, 2, 100);
      expect(errors.map((error) => (error as Error).message).sort()).toEqual([
        'Connection terminated due to connection timeout',
        'timeout exceeded when trying to connect',
      ]);
      for (const error of errors) {
        expect(describeError(error, logger)).toEqual({
          status: 503,
          message: 'the database is busy or unavailable, try again shortly',
        });
      }
      expect(logger.lines).toEqual([
        expect.stringMatching(/^warn database unavailable: /),
        expect.stringMatching(/^warn database unavailable: /),
      ]);
    });

    it('answers 503 when the database refuses connections', async () => {
      const [error] = await pgFailures(closedPort);
      expect((error as { code?: string }).code).toBe('ECONNREFUSED');
      expect(describeError(error, recordingLogger()).status).toBe(503);
    });
  });
});
