import { RuntimeError } from '../runtime-error.js';
import { parseTartList, runArgs } from './tart.runtime.js';

describe(parseTartList.name, () => {
  it('reads name, source, state and running from each entry', () => {
    expect(
      parseTartList([
        { Source: 'local', Name: 'vm-a', Disk: 50, Size: 20, Running: true, State: 'running' },
        {
          Source: 'OCI',
          Name: 'ghcr.io/org/image:latest',
          Disk: 50,
          Size: 20,
          Running: false,
          State: 'stopped',
        },
      ]),
    ).toEqual([
      { name: 'vm-a', source: 'local', state: 'running', running: true },
      { name: 'ghcr.io/org/image:latest', source: 'oci', state: 'stopped', running: false },
    ]);
  });

  it('derives what older Tart versions leave out', () => {
    expect(
      parseTartList([
        { Source: 'local', Name: 'no-state', Running: true },
        { Source: 'local', Name: 'no-running', State: 'suspended' },
        { Name: 'bare' },
      ]),
    ).toEqual([
      { name: 'no-state', source: 'local', state: 'running', running: true },
      { name: 'no-running', source: 'local', state: 'suspended', running: false },
      { name: 'bare', source: 'local', state: 'stopped', running: false },
    ]);
  });

  it('skips entries that are not VMs with a name', () => {
    expect(parseTartList([null, 7, 'vm', { Name: '' }, { Name: 42 }, { Name: 'ok' }])).toEqual([
      { name: 'ok', source: 'local', state: 'stopped', running: false },
    ]);
  });

  it('rejects output that is not an array', () => {
    expect(() => parseTartList({ Name: 'vm' })).toThrow(RuntimeError);
  });
});

describe(runArgs.name, () => {
  const none = {
    netSoftnet: false,
    netSoftnetAllow: [],
    netSoftnetBlock: [],
    netBridged: '',
    headless: false,
    nested: false,
    suspendable: false,
    hostDirs: [],
    username: '',
    password: '',
  };

  it('runs with Tart’s defaults when nothing is asked for', () => {
    expect(runArgs('vm', none)).toEqual(['run', 'vm']);
  });

  it('passes every option as its own argument, the VM name last', () => {
    expect(
      runArgs('vm', {
        ...none,
        netSoftnetAllow: ['0.0.0.0/0'],
        headless: true,
        hostDirs: [
          { name: 'a', path: '/x', ro: false },
          { name: 'b', path: '/y z', ro: true },
        ],
      }),
    ).toEqual([
      'run',
      '--net-softnet-allow',
      '0.0.0.0/0',
      '--no-graphics',
      '--dir=a:/x',
      '--dir=b:/y z:ro',
      'vm',
    ]);
  });
});
