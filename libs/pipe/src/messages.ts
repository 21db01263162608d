/** Default upper bound of one WebSocket or gRPC message carrying tunnel bytes. */
export const DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024;

/**
 * Packs buffered writes into as few messages as possible, none larger than `max` bytes: small
 * chunks are concatenated, a chunk larger than `max` is split, and a lone chunk that fits is sent
 * as is (no copy). Empty chunks are dropped: an empty message means end-of-stream to a peer that
 * speaks the half-close extension.
 */
export function packMessages(chunks: readonly Buffer[], max: number): Buffer[] {
  const messages: Buffer[] = [];
  let pending: Buffer[] = [];
  let size = 0;
  const flush = () => {
    if (size === 0) return;
    messages.push(pending.length === 1 ? pending[0] : Buffer.concat(pending, size));
    pending = [];
    size = 0;
  };
  for (const chunk of chunks) {
    let rest = chunk;
    while (rest.length > 0) {
      const room = max - size;
      if (rest.length < room) {
        pending.push(rest);
        size += rest.length;
        break;
      }
      pending.push(rest.subarray(0, room));
      size += room;
      flush();
      rest = rest.subarray(room);
    }
  }
  flush();
  return messages;
}
