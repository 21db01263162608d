import type { VM, VmEvent } from '#api';

import { Cli, linesOf, startCliController, type CliController } from './support/cli-harness.js';

/** Resolves with the VM once `done` holds for it, following its watch stream. */
async function watchUntil(controller: CliController, name: string, done: (vm: VM) => boolean): Promise<VM> {
  for await (const event of controller.client.watchVm(name)) {
    if (done(event.object)) return event.object;
  }
  throw new Error(`watch of ${name} ended`);
}

describe('orchard CLI: waiting for VMs, logs and workers', () => {
  let cli: Cli;
  let controller: CliController;

  beforeAll(async () => {
    cli = await Cli.create();
    controller = await startCliController(cli);
    const login = await cli.run([
      'context',
      'create',
      controller.url,
      '--service-account-name',
      controller.admin.name,
      '--service-account-token',
      controller.admin.token,
    ]);
    expect(login.code).toBe(0);
  });

  afterAll(async () => {
    await cli.stopAll();
  });

  describe('create vm --wait', () => {
    it('exits 0 once the VM is reported running while it waits', async () => {
      const waiting = cli.start(['create', 'vm', 'runs', '--wait']);
      // The first progress line means the VM exists and the CLI is following its watch stream.
      await waiting.waitForLine('stderr', /^Waiting for VM "runs" to run: pending/);
      await controller.client.updateVmState('runs', { status: 'running' });

      const result = await waiting.exited;
      expect(result).toMatchObject({ code: 0, stdout: '' });
      expect(result.stderr).not.toMatch(/Error/);
    });

    it("exits 1 with the VM's status message when the VM fails while it waits", async () => {
      const waiting = cli.start(['create', 'vm', 'fails', '--wait']);
      await waiting.waitForLine('stderr', /^Waiting for VM "fails" to run: pending/);
      await controller.client.updateVmState('fails', {
        status: 'failed',
        status_message: 'failed to pull the image: manifest unknown',
      });

      const result = await waiting.exited;
      expect(result.code).toBe(1);
      expect(linesOf(result.stderr).at(-1)).toBe(
        'Error: VM "fails" failed: failed to pull the image: manifest unknown',
      );
    });

    it('exits 1 when the VM is deleted while it waits', async () => {
      const waiting = cli.start(['create', 'vm', 'vanishes', '--wait']);
      await waiting.waitForLine('stderr', /^Waiting for VM "vanishes" to run: pending/);
      await controller.client.deleteVm('vanishes');

      const result = await waiting.exited;
      expect(result.code).toBe(1);
      expect(linesOf(result.stderr).at(-1)).toBe('Error: VM "vanishes" was deleted while waiting for it');
    });

    it('gives up after --wait-timeout with exit 1, saying what the VM is still doing', async () => {
      const result = await cli.run(['create', 'vm', 'stays', '--wait-timeout', '1s']);

      expect(result.code).toBe(1);
      expect(linesOf(result.stderr).at(-1)).toMatch(/^Error: VM "stays" is still pending .*after 1s$/);
    });

    it('prints the VM it waited for with -o json', async () => {
      const waiting = cli.start(['create', 'vm', 'shown', '--wait', '-o', 'json']);
      await waiting.waitForLine('stderr', /^Waiting for VM "shown" to run: pending/);
      await controller.client.updateVmState('shown', { status: 'running', image_fqn: 'ghcr.io/x@sha256:1' });

      const result = await waiting.exited;
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({
        name: 'shown',
        status: 'running',
        image_fqn: 'ghcr.io/x@sha256:1',
      });
    });
  });

  describe('logs vm', () => {
    // More than one page (the CLI asks for 1000 events a page), all in the same second so
    // that only the controller's insertion order tells them apart.
    const events: VmEvent[] = Array.from({ length: 1500 }, (_, i) => ({
      kind: 'log_line',
      timestamp: 1_700_000_000 + Math.floor(i / 1000),
      payload: `line ${i}`,
    }));

    beforeAll(async () => {
      await controller.client.createVm({
        name: 'chatty',
        image: 'ghcr.io/cirruslabs/macos-tahoe-base:latest',
      });
      await controller.client.appendEvents('chatty', events.slice(0, 1000));
      await controller.client.appendEvents('chatty', events.slice(1000));
    });

    it('prints every event, oldest first, across pages', async () => {
      const result = await cli.run(['logs', 'vm', 'chatty']);

      expect(result.code).toBe(0);
      expect(linesOf(result.stdout)).toEqual(events.map((event) => event.payload));
    });

    it('--tail N prints only the last N, oldest first', async () => {
      const [three, many] = await Promise.all([
        cli.run(['logs', 'vm', 'chatty', '--tail', '3']),
        cli.run(['logs', 'vm', 'chatty', '--tail', '1200']),
      ]);

      expect(linesOf(three.stdout)).toEqual(['line 1497', 'line 1498', 'line 1499']);
      expect(linesOf(many.stdout)).toEqual(events.slice(300).map((event) => event.payload));
    });

    it('-o json prints the events themselves', async () => {
      const result = await cli.run(['logs', 'vm', 'chatty', '--tail', '2', '-o', 'json']);

      expect(JSON.parse(result.stdout)).toEqual(events.slice(-2));
    });

    it('fails with one line for a VM that does not exist', async () => {
      const result = await cli.run(['logs', 'vm', 'ghost']);

      expect(result).toMatchObject({ code: 1, stdout: '', stderr: 'Error: VM "ghost" not found\n' });
    });
  });

  describe('workers', () => {
    beforeAll(async () => {
      // VMs left pending by the tests above would be placed on the worker and crowd it.
      for (const vm of await controller.client.listVms()) await controller.client.deleteVm(vm.name);
      await controller.client.createWorker({
        name: 'mini-1',
        machine_id: 'machine-1',
        resources: { 'org.cirruslabs.tart-vms': 2 },
        labels: { pool: 'workers-suite' },
      });
    });

    it('list workers and get worker show the registered worker', async () => {
      const [list, get, text] = await Promise.all([
        cli.run(['list', 'workers', '-o', 'json']),
        cli.run(['get', 'worker', 'mini-1', '-o', 'json']),
        cli.run(['list', 'workers']),
      ]);

      expect((JSON.parse(list.stdout) as { name: string }[]).map((worker) => worker.name)).toEqual([
        'mini-1',
      ]);
      expect(JSON.parse(get.stdout)).toMatchObject({
        name: 'mini-1',
        machine_id: 'machine-1',
        scheduling_paused: false,
      });
      expect(linesOf(text.stdout)).toEqual([
        expect.stringMatching(/^Name\s+Last seen\s+Scheduling paused$/),
        expect.stringMatching(/^mini-1\s+(now|\d+ seconds? ago)\s+false$/),
      ]);
    });

    it('pause worker stops scheduling on it and resume worker starts it again', async () => {
      const paused = await cli.run(['pause', 'worker', 'mini-1']);
      const whilePaused = await controller.client.getWorker('mini-1');
      const resumed = await cli.run(['resume', 'worker', 'mini-1']);
      const afterResume = await controller.client.getWorker('mini-1');

      expect(paused).toMatchObject({ code: 0, stderr: '' });
      expect(whilePaused.scheduling_paused).toBe(true);
      expect(resumed).toMatchObject({ code: 0, stderr: '' });
      expect(afterResume.scheduling_paused).toBe(false);
    });

    it('pause worker --wait waits until no VM on the worker is pending or running', async () => {
      await controller.client.createVm({
        name: 'placed',
        image: 'ghcr.io/cirruslabs/macos-tahoe-base:latest',
        labels: { pool: 'workers-suite' },
      });
      await watchUntil(controller, 'placed', (vm) => vm.worker === 'mini-1');

      const busy = await cli.run(['pause', 'worker', 'mini-1', '--wait', '1']);
      await controller.client.updateVmState('placed', { status: 'failed', status_message: 'stopped' });
      const idle = await cli.run(['pause', 'worker', 'mini-1', '--wait', '30']);

      expect(busy.code).toBe(1);
      expect(busy.stderr).toBe(
        'Error: worker "mini-1" still has 1 pending or running VM(s) after 1s: placed\n',
      );
      expect(idle).toMatchObject({ code: 0, stderr: '' });
      expect((await controller.client.getWorker('mini-1')).scheduling_paused).toBe(true);
    });

    it('pause worker of an unknown worker fails with one line', async () => {
      const result = await cli.run(['pause', 'worker', 'nope']);

      expect(result).toMatchObject({ code: 1, stderr: 'Error: worker "nope" not found\n' });
    });

    it('delete worker removes it', async () => {
      expect((await cli.run(['delete', 'worker', 'mini-1'])).code).toBe(0);
      await expect(controller.client.getWorker('mini-1')).rejects.toMatchObject({ status: 404 });
    });
  });
});
