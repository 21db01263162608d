import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { TartRuntime } from '../apps/worker/src/runtime/tart/tart.runtime.js';
import { startTestCluster, type TestCluster } from './support/cluster-harness.js';

const FAKE_TART = join(import.meta.dirname, 'fixtures', 'tart', 'tart');

async function calls(home: string): Promise<string[][]> {
  const log = await readFile(join(home, 'calls.log'), 'utf8').catch(() => '');
  return log
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as string[]);
}

async function startTartCluster(
  env: Record<string, string> = {},
  ipWait = '60s',
): Promise<{ cluster: TestCluster; home: string }> {
  const home = await mkdtemp(join(tmpdir(), 'orchard-fake-tart-'));
  const runtime = new TartRuntime({ binary: FAKE_TART, env: { TART_FAKE_HOME: home, ...env } });
  const cluster = await startTestCluster({
    workers: [{ name: 'mac-mini', runtime: 'tart', vmRuntime: runtime, ipWait }],
  });
  return { cluster, home };
}

describe('a worker on the tart runtime (fake tart honouring the CLI contract)', () => {
  it('clones, configures and runs a VM with the spec as tart flags, then stops and deletes it', async () => {
    const { cluster, home } = await startTartCluster();
    try {
      await cluster.client.createVm({
        name: 'mac',
        image: 'ghcr.io/cirruslabs/macos-sequoia-base:latest',
        imagePullPolicy: 'Always',
        cpu: 6,
        memory: 12288,
        headless: true,
        nested: true,
        randomSerial: true,
      });
      const vm = await cluster.waitForVm('mac', (v) => v.status === 'running');
      expect(vm.image_fqn).toMatch(/^ghcr\.io\/cirruslabs\/macos-sequoia-base@sha256:[0-9a-f]{64}$/);

      const argv = await calls(home);
      const verbs = argv.map((args) => args[0]);
      // The worker's start-up `tart list` (garbage collection) may run alongside the first pull.
      expect(verbs.indexOf('list')).toBeGreaterThanOrEqual(0);
      expect(verbs.indexOf('list')).toBeLessThan(verbs.indexOf('clone'));
      expect(verbs.filter((verb) => verb !== 'list').slice(0, 4)).toEqual(['pull', 'clone', 'fqn', 'set']);
      // `tart ip` starts right after `tart run` is spawned: the two may log in either order.
      expect(
        verbs
          .filter((verb) => verb !== 'list')
          .slice(4, 6)
          .sort(),
      ).toEqual(['ip', 'run']);
      expect(argv.find((a) => a[0] === 'clone')).toEqual(['clone', vm.image, vm.localName]);
      const set = argv.find((a) => a[0] === 'set')!;
      expect(set).toEqual(
        expect.arrayContaining(['--cpu', '6', '--memory', '12288', '--random-serial', vm.localName]),
      );
      const run = argv.find((a) => a[0] === 'run')!;
      expect(run).toEqual(expect.arrayContaining(['--no-graphics', '--nested']));
      expect(run[run.length - 1]).toBe(vm.localName);

      const gone = new Promise<void>((resolve) => {
        const onSynced = () =>
          void calls(home).then((all) => {
            if (all.some((a) => a[0] === 'delete' && a.includes(vm.localName))) {
              cluster.workers[0].sync.off('synced', onSynced);
              resolve();
            }
          });
        cluster.workers[0].sync.on('synced', onSynced);
      });
      await cluster.client.deleteVm('mac');
      await gone;
      const after = await calls(home);
      const stopAt = after.findIndex((a) => a[0] === 'stop' && a.includes(vm.localName));
      const deleteAt = after.findIndex((a) => a[0] === 'delete' && a.includes(vm.localName));
      expect(stopAt).toBeGreaterThan(-1);
      expect(deleteAt).toBeGreaterThan(stopAt);
    } finally {
      await cluster.close();
    }
  });

  it("fails the VM with tart's own message when clone fails", async () => {
    const { cluster } = await startTartCluster({ TART_FAKE_FAIL_CLONE: 'the registry said no' });
    try {
      await cluster.client.createVm({ name: 'broken', image: 'ghcr.io/org/image:latest' });
      const vm = await cluster.waitForVm('broken', (v) => v.status === 'failed');
      expect(vm.status_message).toContain('tart command failed');
      expect(vm.status_message).toContain('the registry said no');
    } finally {
      await cluster.close();
    }
  });

  it('fails the VM with "VM exited unexpectedly" when tart run ends on its own', async () => {
    const { cluster } = await startTartCluster({ TART_FAKE_RUN_EXIT_AFTER_MS: '300' });
    try {
      await cluster.client.createVm({ name: 'crashy', image: 'ghcr.io/org/image:latest' });
      const vm = await cluster.waitForVm('crashy', (v) => v.status === 'failed');
      expect(vm.status_message).toMatch(/^VM exited unexpectedly/);
    } finally {
      await cluster.close();
    }
  });
});

describe('a VM whose guest never gets an IP address', () => {
  it("fails with tart's message instead of claiming to run", async () => {
    const { cluster } = await startTartCluster({ TART_FAKE_IP_NEVER: '1' }, '1s');
    try {
      await cluster.client.createVm({ name: 'mute', image: 'ghcr.io/org/image:latest' });
      const vm = await cluster.waitForVm('mute', (v) => v.status === 'failed');
      expect(vm.status_message).toContain('tart command failed');
    } finally {
      await cluster.close();
    }
  });
});
