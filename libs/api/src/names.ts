import { invalid } from './errors.js';

/** Resource names as Orchard accepts them (VMs, workers, service accounts). */
export const NAME_PATTERN = /^[A-Za-z0-9:_.-]+$/;
export const NAME_MAX_LENGTH = 253;

export function validateName(kind: string, name: unknown): string {
  if (typeof name !== 'string' || name === '') {
    throw invalid(`${kind} name is required`);
  }
  if (name.length > NAME_MAX_LENGTH || !NAME_PATTERN.test(name)) {
    throw invalid(
      `${kind} name "${name}" is invalid: use at most ${NAME_MAX_LENGTH} letters, digits and the characters ':', '_', '.', '-'`,
    );
  }
  return name;
}
