import { decide, type LocalState, type RemoteState, type SyncAction } from './reconcile.js';

describe(decide.name, () => {
  const table: [RemoteState, LocalState, SyncAction][] = [
    ['pending', 'absent', 'create'],
    ['pending', 'pending', 'report-progress'],
    ['pending', 'running', 'report-running'],
    ['pending', 'failed', 'report-failed'],
    ['running', 'absent', 'report-lost'],
    ['running', 'pending', 'report-progress'],
    ['running', 'running', 'none'],
    ['running', 'failed', 'report-failed'],
    ['failed', 'absent', 'none'],
    ['failed', 'pending', 'stop-and-delete'],
    ['failed', 'running', 'stop-and-delete'],
    ['failed', 'failed', 'delete'],
    ['absent', 'absent', 'none'],
    ['absent', 'pending', 'stop-and-delete'],
    ['absent', 'running', 'stop-and-delete'],
    ['absent', 'failed', 'delete'],
  ];

  it.each(table)(
    'a VM the controller sees as %s and this worker as %s leads to %s',
    (remote, local, action) => {
      expect(decide(remote, local)).toBe(action);
    },
  );
});
