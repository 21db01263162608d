/**
 * Domain errors shared by the controller, the worker and the CLI. Each transport maps the
 * `code` once (HTTP status, gRPC status, WebSocket close code); nothing here knows about HTTP.
 */
export type ErrorCode =
  | 'bad-request' // malformed input that could not even be parsed (400)
  | 'invalid' // well-formed input that breaks a rule (412, as Orchard answers)
  | 'unauthenticated' // no or wrong credentials (401)
  | 'forbidden' // valid credentials lacking the role (403)
  | 'not-found' // (404)
  | 'conflict' // name taken, machine id mismatch (409)
  | 'too-large' // request body over the limit (413)
  | 'timeout' // waited as long as the caller allowed for something that did not happen (408)
  | 'failed' // the target is in a state that cannot satisfy the request, e.g. a failed VM (417)
  | 'unavailable'; // a dependency (database, worker) is not reachable right now (503)

export class OrchardError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'OrchardError';
  }
}

export const invalid = (message: string): OrchardError => new OrchardError('invalid', message);
export const notFound = (message: string): OrchardError => new OrchardError('not-found', message);
export const conflict = (message: string): OrchardError => new OrchardError('conflict', message);
export const badRequest = (message: string): OrchardError => new OrchardError('bad-request', message);
