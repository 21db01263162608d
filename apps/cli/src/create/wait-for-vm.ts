import type { VM } from '#api';
import type { OrchardClient } from '#client';

import { CommandFailedError } from '../common/errors.js';
import type { Progress } from '../common/progress.js';

const describe = (vm: VM) => `${vm.status}${vm.status_message ? ` (${vm.status_message})` : ''}`;

/**
 * Follows the VM's watch stream until it runs (resolves with it) or fails, is deleted, or
 * `timeoutMs` passes (rejects with CommandFailedError). null: no time limit.
 */
export async function waitForVm(
  client: OrchardClient,
  name: string,
  timeoutMs: number | null,
  progress: Progress,
): Promise<VM> {
  const deadline = new AbortController();
  const timer = timeoutMs === null ? undefined : setTimeout(() => deadline.abort(), timeoutMs);
  let last: VM | undefined;
  try {
    for await (const event of client.watchVm(name, deadline.signal)) {
      if (event.type === 'DELETED')
        throw new CommandFailedError(`VM "${name}" was deleted while waiting for it`);
      last = event.object;
      progress.update(`Waiting for VM "${name}" to run: ${describe(last)}`);
      if (last.status === 'running') return last;
      if (last.status === 'failed') {
        throw new CommandFailedError(`VM "${name}" failed: ${last.status_message || 'no reason given'}`);
      }
    }
    throw new CommandFailedError(`the controller ended the watch of VM "${name}" before it was running`);
  } catch (error) {
    if (deadline.signal.aborted) {
      throw new CommandFailedError(
        `VM "${name}" is still ${last ? describe(last) : 'not running'} after ${Math.round((timeoutMs ?? 0) / 1000)}s`,
      );
    }
    throw error;
  } finally {
    clearTimeout(timer);
    progress.stop();
  }
}
