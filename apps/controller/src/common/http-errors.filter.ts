import { randomUUID } from 'node:crypto';

import { ArgumentsHost, Catch, HttpException, Logger, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

import { OrchardError, type ErrorCode } from '#api';

import { DATABASE_UNAVAILABLE_MESSAGE, isDatabaseUnavailable } from './pg-errors.js';

/** The one mapping of domain error codes to HTTP statuses. */
export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case 'bad-request':
      return 400;
    case 'unauthenticated':
      return 401;
    case 'forbidden':
      return 403;
    case 'not-found':
      return 404;
    case 'conflict':
      return 409;
    case 'invalid':
      return 412;
    case 'too-large':
      return 413;
    case 'timeout':
      return 408;
    case 'failed':
      return 417;
    case 'unavailable':
      return 503;
  }
}

interface StatusCarrier {
  statusCode?: unknown;
  message?: unknown;
}

/** Turns any error into `{status, message}`; unknown errors become a logged 500 with an id. */
export function describeError(error: unknown, logger: Logger): { status: number; message: string } {
  if (error instanceof OrchardError) {
    return { status: httpStatusOf(error.code), message: error.message };
  }
  if (error instanceof HttpException) {
    const response = error.getResponse();
    const message =
      typeof response === 'object' && response !== null && 'message' in response
        ? String(response.message)
        : error.message;
    return { status: error.getStatus(), message };
  }
  // Fastify's own errors (malformed JSON, body too large, bad content type) carry a 4xx statusCode.
  const carrier = error as StatusCarrier;
  if (typeof carrier?.statusCode === 'number' && carrier.statusCode >= 400 && carrier.statusCode < 500) {
    return { status: carrier.statusCode, message: fastifyMessage(carrier) };
  }
  if (isDatabaseUnavailable(error)) {
    // Load or an outage, not a bug: one line, and an answer the client can retry.
    logger.warn(`database unavailable: ${(error as Error).message}`);
    return { status: 503, message: DATABASE_UNAVAILABLE_MESSAGE };
  }
  const id = randomUUID();
  logger.error(
    `unexpected error ${id}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
  );
  return { status: 500, message: `internal error (id ${id}), see the controller log` };
}

function fastifyMessage(error: StatusCarrier & { code?: unknown }): string {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'request body is larger than 1 MiB';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'request body is empty, expected JSON';
    default:
      if (error.statusCode === 400 && !String(error.message).startsWith('request body')) {
        return `bad request: ${String(error.message)}`;
      }
      return String(error.message);
  }
}

@Catch()
export class HttpErrorsFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(error: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const { status, message } = describeError(error, this.logger);
    if (reply.sent || reply.raw.headersSent) {
      reply.raw.destroy();
      return;
    }
    void reply.status(status).header('content-type', 'application/json; charset=utf-8').send({ message });
  }
}
