import type { VmStatus } from '#api';

/** What the controller says about a VM assigned to this worker ('absent': not assigned any more). */
export type RemoteState = 'absent' | VmStatus;

/** What this worker knows of the VM locally. */
export type LocalState = 'absent' | 'pending' | 'running' | 'failed';

export type SyncAction =
  | 'none'
  | 'create' // start creating the VM locally
  | 'report-progress' // still creating: report the latest status message
  | 'report-running'
  | 'report-failed' // report the local error
  | 'report-lost' // the controller thinks it runs here, but it does not: "Worker lost track of VM"
  | 'stop-and-delete'
  | 'delete';

/**
 * The whole reconcile policy in one table: remote state x local state -> action. Everything the
 * sync loop does to a VM is decided here, so the table can be read (and tested) at a glance.
 */
export function decide(remote: RemoteState, local: LocalState): SyncAction {
  switch (remote) {
    case 'pending':
      switch (local) {
        case 'absent':
          return 'create';
        case 'pending':
          return 'report-progress';
        case 'running':
          return 'report-running';
        case 'failed':
          return 'report-failed';
      }
      break;
    case 'running':
      switch (local) {
        case 'absent':
          return 'report-lost';
        case 'pending':
          // Re-running after a spec change: the VM is coming back; report progress.
          return 'report-progress';
        case 'running':
          return 'none';
        case 'failed':
          return 'report-failed';
      }
      break;
    case 'failed':
      switch (local) {
        case 'absent':
          return 'none';
        case 'pending':
        case 'running':
          return 'stop-and-delete';
        case 'failed':
          return 'delete';
      }
      break;
    case 'absent':
      switch (local) {
        case 'absent':
          return 'none';
        case 'pending':
        case 'running':
          return 'stop-and-delete';
        case 'failed':
          return 'delete';
      }
      break;
  }
}
