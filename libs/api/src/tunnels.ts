/**
 * Orchard-TS extension to the port-forward WebSocket endpoints: half-close. A client that sends
 * this header with the value "1" on its upgrade request, and finds it with "1" on the 101 answer,
 * speaks the extension: an empty binary message is end-of-stream for its sender's direction (the
 * TCP FIN of the connection it carries), and the WebSocket closes once both directions have
 * ended. Without it (Orchard's behaviour) either side closing ends the whole tunnel. A controller
 * that does not know the header ignores it, so a client offers it whatever it talks to.
 */
export const HALF_CLOSE_HEADER = 'x-orchard-half-close';

/** Whether a header value (Node's shape: absent, one, or several) turns half-close on. */
export function halfCloseRequested(value: string | string[] | undefined): boolean {
  return (Array.isArray(value) ? value[0] : value)?.trim() === '1';
}
