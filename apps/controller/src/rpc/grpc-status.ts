import { status, type ServiceError } from '@grpc/grpc-js';
import { Metadata } from '@grpc/grpc-js';

import { OrchardError, type ErrorCode } from '#api';

import { DATABASE_UNAVAILABLE_MESSAGE, isDatabaseUnavailable } from '../common/pg-errors.js';

/** The one mapping of domain error codes to gRPC statuses. */
export function grpcStatusOf(code: ErrorCode): status {
  switch (code) {
    case 'bad-request':
    case 'invalid':
      return status.INVALID_ARGUMENT;
    case 'unauthenticated':
      return status.UNAUTHENTICATED;
    case 'forbidden':
      return status.PERMISSION_DENIED;
    case 'not-found':
      return status.NOT_FOUND;
    case 'conflict':
      return status.ALREADY_EXISTS;
    case 'too-large':
      return status.RESOURCE_EXHAUSTED;
    case 'timeout':
      return status.DEADLINE_EXCEEDED;
    case 'failed':
      return status.FAILED_PRECONDITION;
    case 'unavailable':
      return status.UNAVAILABLE;
  }
}

export function toServiceError(error: unknown): Partial<ServiceError> {
  if (error instanceof OrchardError) {
    return { code: grpcStatusOf(error.code), details: error.message, metadata: new Metadata() };
  }
  if (isDatabaseUnavailable(error)) {
    // Workers retry UNAVAILABLE with backoff, as they do a controller outage.
    return {
      code: status.UNAVAILABLE,
      details: DATABASE_UNAVAILABLE_MESSAGE,
      metadata: new Metadata(),
    };
  }
  return {
    code: status.INTERNAL,
    details: 'internal error, see the controller log',
    metadata: new Metadata(),
  };
}
