/**
 * What can go wrong talking to a controller, as types a caller can tell apart: the controller
 * answered with an error (ApiError), it could not be reached at all (ConnectionError), or the
 * client was set up wrong before any request (ClientConfigError).
 */
export class ApiError extends Error {
  override name = 'ApiError';

  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class ConnectionError extends Error {
  override name = 'ConnectionError';

  constructor(
    readonly url: string,
    message: string,
  ) {
    super(message);
  }
}

/** A bad controller URL, a broken contexts file, an unknown context. */
export class ClientConfigError extends Error {
  override name = 'ClientConfigError';
}
