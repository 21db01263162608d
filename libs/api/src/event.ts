import { invalid } from './errors.js';
import { asNestedObject, optionalString } from './fields.js';

/** A VM event (today: log lines a worker collects). `timestamp` is unix seconds. */
export interface VmEvent {
  kind: string;
  timestamp: number;
  payload: string;
}

export const EVENTS_DEFAULT_LIMIT = 100;
export const EVENTS_MAX_LIMIT = 1000;
export const EVENTS_MAX_BATCH = 1000;

/** POST /v1/vms/{name}/events takes an array of events. */
export function parseEvents(body: unknown): VmEvent[] {
  if (!Array.isArray(body)) throw invalid('events must be a JSON array');
  if (body.length > EVENTS_MAX_BATCH) throw invalid(`at most ${EVENTS_MAX_BATCH} events per request`);
  return body.map((raw, index) => {
    const object = asNestedObject(raw, `events[${index}]`);
    const timestamp = object['timestamp'];
    if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0) {
      throw invalid(`events[${index}].timestamp must be unix seconds`);
    }
    return {
      kind: optionalString(object, 'kind') || 'log_line',
      timestamp,
      payload: optionalString(object, 'payload') ?? '',
    };
  });
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One ndjson line of GET /v1/vms/{name}?watch=true. */
export interface WatchEvent<T> {
  type: WatchEventType;
  object: T;
}

export interface ControllerInfo {
  version: string;
  commit: string;
  capabilities: string[];
}
