import { badRequest } from '#api';

/** How long the endpoints wait by default (`?wait=`), as Orchard; the CLI sends 60. */
export const DEFAULT_WAIT_SECONDS = 10;
export const MAX_WAIT_SECONDS = 3600;

export function parsePort(text: string | undefined): number {
  const port = Number(text);
  if (text === undefined || text === '' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw badRequest(`port must be an integer from 1 to 65535, not "${text ?? ''}"`);
  }
  return port;
}

/** `?wait=` in seconds; returns milliseconds. */
export function parseWait(text: string | undefined): number {
  if (text === undefined || text === '') return DEFAULT_WAIT_SECONDS * 1000;
  const wait = Number(text);
  if (!Number.isInteger(wait) || wait < 0 || wait > MAX_WAIT_SECONDS) {
    throw badRequest(`wait must be a number of seconds from 0 to ${MAX_WAIT_SECONDS}, not "${text}"`);
  }
  return wait * 1000;
}
