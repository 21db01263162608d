/** A WebSocket tunnel closed with a code that is not a normal close (see {@link NORMAL_CLOSE_CODES}). */
export class WebSocketCloseError extends Error {
  override readonly name = 'WebSocketCloseError';

  constructor(
    /** The close code received (or, for an error raised here, the code sent to the peer). */
    readonly closeCode: number,
    readonly reason: string,
  ) {
    super(`WebSocket closed with code ${closeCode}${reason ? `: ${reason}` : ''}`);
  }
}

/** The gRPC peer cancelled the call before the tunnel completed (the worker or controller hung up). */
export class GrpcCancelledError extends Error {
  override readonly name = 'GrpcCancelledError';
  /** grpc.status.CANCELLED, so that the error maps to the same status when relayed. */
  readonly code = 1;

  constructor(readonly details = 'the peer cancelled the call') {
    super(`gRPC call cancelled: ${details}`);
  }
}

/**
 * WebSocket close codes that end a tunnel normally: 1000 (normal closure), 1001 (going away) and
 * 1005 (the peer sent a close frame without a code). 1006 (no close frame at all) is abnormal.
 */
export const NORMAL_CLOSE_CODES: ReadonlySet<number> = new Set([1000, 1001, 1005]);
