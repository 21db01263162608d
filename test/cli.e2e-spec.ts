import { readFile, stat, writeFile } from 'node:fs/promises';

import { parse } from 'yaml';

import { OrchardClient } from '#client';

import {
  Cli,
  linesOf,
  startCliController,
  unreachableUrl,
  type CliController,
} from './support/cli-harness.js';

/** A user's mistake is reported as exactly one line, never a stack trace. */
function expectOneLine(stderr: string, pattern: RegExp): void {
  expect(linesOf(stderr)).toHaveLength(1);
  expect(stderr).toMatch(/^Error: /);
  expect(stderr).toMatch(pattern);
  expect(stderr).not.toMatch(/\n\s+at /);
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe('orchard CLI against `orchard controller run`', () => {
  let cli: Cli;
  let controller: CliController;
  let admin: string[];
  let unreachable: string;
  let unreachablePattern: RegExp;

  beforeAll(async () => {
    cli = await Cli.create();
    controller = await startCliController(cli);
    unreachable = await unreachableUrl();
    unreachablePattern = new RegExp(
      `cannot reach the controller at ${escape(unreachable)}: connection refused`,
    );
    admin = [
      '--service-account-name',
      controller.admin.name,
      '--service-account-token',
      controller.admin.token,
    ];
  });

  afterAll(async () => {
    await cli.stopAll();
  });

  /** orchard.yml as written, read independently of the client library's parser. */
  async function contextsFile(): Promise<{
    'default-context'?: string;
    contexts: Record<string, Record<string, string>>;
  }> {
    return parse(await readFile(cli.contextsFile, 'utf8')) as Awaited<ReturnType<typeof contextsFile>>;
  }

  describe('contexts', () => {
    it('context create checks the controller, then saves the context to orchard.yml readable by its owner only', async () => {
      const result = await cli.run(['context', 'create', controller.url, '--name', 'prod', ...admin]);

      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect((await stat(cli.contextsFile)).mode & 0o777).toBe(0o600);
      expect(await contextsFile()).toEqual({
        'default-context': 'prod',
        contexts: {
          prod: {
            url: controller.url,
            serviceAccountName: controller.admin.name,
            serviceAccountToken: controller.admin.token,
          },
        },
      });
    });

    it('context create refuses credentials the controller rejects and saves nothing', async () => {
      const result = await cli.run([
        'context',
        'create',
        controller.url,
        '--name',
        'wrong',
        '--service-account-name',
        controller.admin.name,
        '--service-account-token',
        'not-the-token-0123456789',
      ]);

      expect(result.code).toBe(1);
      expectOneLine(result.stderr, /refused service account "bootstrap-admin"/);
      expect(await readFile(cli.contextsFile, 'utf8')).not.toContain('wrong');
    });

    it('context create refuses an unreachable controller, naming its URL', async () => {
      const result = await cli.run(['context', 'create', unreachable, '--name', 'offline', ...admin]);

      expect(result.code).toBe(1);
      expectOneLine(result.stderr, unreachablePattern);
    });

    it('context create --force saves a context without checking it', async () => {
      const result = await cli.run([
        'context',
        'create',
        unreachable,
        '--name',
        'offline',
        '--force',
        ...admin,
      ]);

      expect(result.code).toBe(0);
      expect((await contextsFile()).contexts.offline.url).toBe(unreachable);
    });

    it('context list shows every context, marks the default and leaves tokens out', async () => {
      const [text, json] = await Promise.all([
        cli.run(['context', 'list']),
        cli.run(['context', 'list', '-o', 'json']),
      ]);

      expect(text.code).toBe(0);
      expect(linesOf(text.stdout)).toEqual([
        expect.stringMatching(/^Name\s+URL\s+Service account\s+Default$/),
        expect.stringMatching(new RegExp(`^offline\\s+${escape(unreachable)}\\s+bootstrap-admin$`)),
        expect.stringMatching(new RegExp(`^prod\\s+${escape(controller.url)}\\s+bootstrap-admin\\s+\\*$`)),
      ]);
      expect(JSON.parse(json.stdout)).toEqual([
        { name: 'offline', url: unreachable, serviceAccountName: 'bootstrap-admin', default: false },
        { name: 'prod', url: controller.url, serviceAccountName: 'bootstrap-admin', default: true },
      ]);
      expect(text.stdout + json.stdout).not.toContain(controller.admin.token);
    });

    it('context default chooses the controller that the other commands talk to', async () => {
      expect((await cli.run(['context', 'default', 'offline'])).code).toBe(0);
      const viaOffline = await cli.run(['list', 'vms']);
      expect((await cli.run(['context', 'default', 'prod'])).code).toBe(0);
      const viaProd = await cli.run(['list', 'vms']);

      expect(viaOffline.code).toBe(1);
      expectOneLine(viaOffline.stderr, unreachablePattern);
      expect(viaProd).toMatchObject({ code: 0, stderr: '' });
    });

    it('context default of an unknown context fails and keeps the default', async () => {
      const result = await cli.run(['context', 'default', 'nope']);

      expect(result.code).toBe(1);
      expectOneLine(result.stderr, /no such context: "nope"/);
      expect((await contextsFile())['default-context']).toBe('prod');
    });

    it('context delete removes a context', async () => {
      const result = await cli.run(['context', 'delete', 'offline']);

      expect(result.code).toBe(0);
      expect(Object.keys((await contextsFile()).contexts)).toEqual(['prod']);
      expect((await cli.run(['context', 'delete', 'offline'])).code).toBe(1);
    });

    it('ORCHARD_URL and the ORCHARD_SERVICE_ACCOUNT_* variables win over the contexts file', async () => {
      const [wrongToken, wrongUrl] = await Promise.all([
        cli.run(['list', 'vms'], { ORCHARD_SERVICE_ACCOUNT_TOKEN: 'wrong-token-0123456789' }),
        cli.run(['list', 'vms'], { ORCHARD_URL: unreachable }),
      ]);

      expect(wrongToken.code).toBe(1);
      expectOneLine(wrongToken.stderr, /invalid service account name or token/);
      expect(wrongUrl.code).toBe(1);
      expectOneLine(wrongUrl.stderr, unreachablePattern);
    });
  });

  describe('VMs', () => {
    beforeAll(async () => {
      await controller.client.setClusterSettings({
        hostDirPolicies: [{ pathPrefix: '/Users/ci', ro: false }],
      });
    });

    it("create vm applies Orchard's defaults", async () => {
      expect(await cli.run(['create', 'vm', 'plain'])).toMatchObject({ code: 0, stdout: '', stderr: '' });

      const vm = await controller.client.getVm('plain');
      expect(vm).toMatchObject({
        image: 'ghcr.io/cirruslabs/macos-tahoe-base:latest',
        imagePullPolicy: 'IfNotPresent',
        cpu: 4,
        memory: 8192,
        diskSize: 0,
        os: 'darwin',
        headless: true,
        nested: false,
        netSoftnet: false,
        username: 'admin',
        password: 'admin',
        startup_script: null,
        restart_policy: 'Never',
        randomSerial: false,
        labels: {},
        hostDirs: [],
        status: 'pending',
      });
    });

    it('create vm sends every flag, and get vm -o json shows each of them', async () => {
      const script = `${cli.home}/startup.sh`;
      await writeFile(script, 'echo hello\n');

      const created = await cli.run([
        'create',
        'vm',
        'full',
        '--image',
        'ghcr.io/cirruslabs/ubuntu:latest',
        '--cpu',
        '2',
        '--memory',
        '4096',
        '--disk-size',
        '50',
        '--os',
        'linux',
        '--arch',
        'arm64',
        '--runtime',
        'tart',
        '--no-headless',
        '--nested',
        '--net-softnet-allow',
        '10.0.0.0/8,192.168.0.0/16',
        '--net-softnet-block',
        '0.0.0.0/0',
        '--net-bridged',
        'en0',
        '--suspendable',
        '--username',
        'ci',
        '--password',
        'secret',
        '--resources',
        'gpu=1',
        '--resources',
        'org.cirruslabs.tart-vms=1',
        '--labels',
        'pool=ci,size=large',
        '--random-serial',
        '--restart-policy',
        'OnFailure',
        '--startup-script',
        `@${script}`,
        '--host-dirs',
        'src:/Users/ci/src:ro',
        '--host-dirs',
        'cache:/Users/ci/cache',
        '--image-pull-policy',
        'Always',
      ]);
      const shown = await cli.run(['get', 'vm', 'full', '-o', 'json']);

      expect(created).toMatchObject({ code: 0, stderr: '' });
      expect(shown.code).toBe(0);
      const vm = JSON.parse(shown.stdout);
      expect(vm.name).toBe('full');
      expect(vm.image).toBe('ghcr.io/cirruslabs/ubuntu:latest');
      expect(vm.cpu).toBe(2);
      expect(vm.memory).toBe(4096);
      expect(vm.diskSize).toBe(50);
      expect(vm.os).toBe('linux');
      expect(vm.arch).toBe('arm64');
      expect(vm.runtime).toBe('tart');
      expect(vm.headless).toBe(false);
      expect(vm.nested).toBe(true);
      expect(vm.netSoftnet).toBe(true);
      expect(vm.netSoftnetAllow).toEqual(['10.0.0.0/8', '192.168.0.0/16']);
      expect(vm.netSoftnetBlock).toEqual(['0.0.0.0/0']);
      expect(vm['net-bridged']).toBe('en0');
      expect(vm.suspendable).toBe(true);
      expect(vm.username).toBe('ci');
      expect(vm.password).toBe('secret');
      expect(vm.resources).toEqual({ gpu: 1, 'org.cirruslabs.tart-vms': 1 });
      expect(vm.labels).toEqual({ pool: 'ci', size: 'large' });
      expect(vm.randomSerial).toBe(true);
      expect(vm.restart_policy).toBe('OnFailure');
      expect(vm.startup_script).toEqual({ script_content: 'echo hello\n', env: {} });
      expect(vm.hostDirs).toEqual([
        { name: 'src', path: '/Users/ci/src', ro: true },
        { name: 'cache', path: '/Users/ci/cache', ro: false },
      ]);
      expect(vm.imagePullPolicy).toBe('Always');
      expect(vm.status).toBe('pending');
    });

    it('get vm shows the VM as a table of fields', async () => {
      const result = await cli.run(['get', 'vm', 'full']);

      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^Name\s+full$/m);
      expect(result.stdout).toMatch(/^Status\s+pending$/m);
      expect(result.stdout).toMatch(/^Labels\s+pool: ci\n\s+size: large$/m);
      expect(result.stdout).toMatch(
        /^Host directories\s+src:\/Users\/ci\/src:ro\n\s+cache:\/Users\/ci\/cache$/m,
      );
    });

    it('list vms shows an aligned table, one row per VM, and -o json the VMs themselves', async () => {
      const [text, json] = await Promise.all([
        cli.run(['list', 'vms']),
        cli.run(['list', 'vms', '--output', 'json']),
      ]);

      expect(text.code).toBe(0);
      const lines = linesOf(text.stdout);
      expect(lines[0]).toMatch(/^Name\s+Created\s+Image\s+Status\s+Worker\s+Restart policy$/);
      expect(lines.slice(1).map((line) => line.split(/\s+/)[0])).toEqual(['plain', 'full']);
      // Aligned: every row's Image column starts where the header's does.
      const imageColumn = lines[0].indexOf('Image');
      expect(lines[1].slice(imageColumn)).toMatch(/^ghcr\.io\/cirruslabs\/macos-tahoe-base:latest\s/);
      expect(lines[2].slice(imageColumn)).toMatch(/^ghcr\.io\/cirruslabs\/ubuntu:latest\s/);
      expect((JSON.parse(json.stdout) as { name: string }[]).map((vm) => vm.name)).toEqual(['plain', 'full']);
    });

    it('create vm of a name already taken fails with the controller’s message', async () => {
      const result = await cli.run(['create', 'vm', 'plain']);

      expect(result.code).toBe(1);
      expectOneLine(result.stderr, /VM "plain" already exists/);
    });

    it('delete vm removes the VM, after which get vm fails with one line and exit 1', async () => {
      const deleted = await cli.run(['delete', 'vm', 'plain']);
      const shown = await cli.run(['get', 'vm', 'plain']);

      expect(deleted).toMatchObject({ code: 0, stdout: '', stderr: '' });
      expect(shown).toMatchObject({ code: 1, stdout: '', stderr: 'Error: VM "plain" not found\n' });
    });
  });

  describe('service accounts', () => {
    it('create service-account prints a token that then authenticates with the roles given', async () => {
      const result = await cli.run([
        'create',
        'service-account',
        'ci',
        '--roles',
        'compute:read',
        '--roles',
        'compute:write,compute:connect',
      ]);

      expect(result.code).toBe(0);
      const token = result.stdout.trim();
      expect(token).toMatch(/^\S{16,}$/);
      const ci = new OrchardClient({
        url: controller.url,
        serviceAccountName: 'ci',
        serviceAccountToken: token,
      });
      await expect(ci.listVms()).resolves.toEqual(expect.any(Array));
      await expect(ci.listServiceAccounts()).rejects.toMatchObject({ status: 403 });
    });

    it('get service-account and list service-accounts show the roles, never a token', async () => {
      const [one, all] = await Promise.all([
        cli.run(['get', 'service-account', 'ci', '-o', 'json']),
        cli.run(['list', 'service-accounts']),
      ]);

      expect(JSON.parse(one.stdout)).toEqual({
        name: 'ci',
        roles: ['compute:read', 'compute:write', 'compute:connect'],
        createdAt: expect.any(String),
      });
      expect(all.stdout).toMatch(/^ci\s+compute:read, compute:write, compute:connect$/m);
      expect(all.stdout).toMatch(/^bootstrap-admin\s+compute:read/m);
    });

    it('create service-account with an unknown role is a usage error', async () => {
      const result = await cli.run(['create', 'service-account', 'x', '--roles', 'root']);

      expect(result.code).toBe(2);
      expectOneLine(result.stderr, /--roles "root" is not a role/);
    });

    it('delete service-account revokes it', async () => {
      expect((await cli.run(['delete', 'service-account', 'ci'])).code).toBe(0);
      await expect(controller.client.getServiceAccount('ci')).rejects.toMatchObject({ status: 404 });
    });
  });

  describe('cluster settings', () => {
    it('set cluster-settings replaces the host-dir policies and the scheduler profile, as get cluster-settings shows', async () => {
      const set = await cli.run([
        'set',
        'cluster-settings',
        '--host-dir-policies',
        '/Users/ci/src:ro',
        '--host-dir-policies',
        '/tmp',
        '--scheduler-profile',
        'distribute-load',
      ]);
      const [json, text] = await Promise.all([
        cli.run(['get', 'cluster-settings', '-o', 'json']),
        cli.run(['get', 'cluster-settings']),
      ]);

      expect(set).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(json.stdout)).toEqual({
        hostDirPolicies: [
          { pathPrefix: '/Users/ci/src', ro: true },
          { pathPrefix: '/tmp', ro: false },
        ],
        schedulerProfile: 'distribute-load',
      });
      expect(text.stdout).toMatch(/^hostDir policies\s+\/Users\/ci\/src:ro,\/tmp$/m);
      expect(text.stdout).toMatch(/^Scheduler profile\s+distribute-load$/m);
    });

    it('set cluster-settings with one setting keeps the other', async () => {
      await cli.run(['set', 'cluster-settings', '--scheduler-profile', 'optimize-utilization']);

      expect(await controller.client.getClusterSettings()).toEqual({
        hostDirPolicies: [
          { pathPrefix: '/Users/ci/src', ro: true },
          { pathPrefix: '/tmp', ro: false },
        ],
        schedulerProfile: 'optimize-utilization',
      });
    });

    it('set cluster-settings without any setting is a usage error', async () => {
      const result = await cli.run(['set', 'cluster-settings']);

      expect(result.code).toBe(2);
      expectOneLine(result.stderr, /nothing to set/);
    });
  });

  describe('mistakes', () => {
    it('orchard --help prints the commands and exits 0', async () => {
      const result = await cli.run(['--help']);

      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^Usage: orchard /);
      for (const command of [
        'context',
        'controller',
        'create',
        'delete',
        'get',
        'list',
        'logs',
        'pause',
        'resume',
        'set',
      ]) {
        expect(result.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
      }
    });

    it('an unknown command prints the usage and exits 2', async () => {
      const [top, sub] = await Promise.all([cli.run(['frobnicate']), cli.run(['list', 'frobnicators'])]);

      expect(top.code).toBe(2);
      expect(top.stderr).toMatch(/^Error: unknown command 'frobnicate'/);
      expect(top.stderr).toContain('Usage: orchard');
      expect(sub.code).toBe(2);
      expect(sub.stderr).toMatch(/^Error: unknown command 'frobnicators'/);
      expect(sub.stderr).toContain('Usage: orchard list');
    });

    it('a bad flag value is one line and exit 2, before anything is sent', async () => {
      const [cpu, policy, unknown] = await Promise.all([
        cli.run(['create', 'vm', 'bad', '--cpu', 'many']),
        cli.run(['create', 'vm', 'bad', '--restart-policy', 'Always']),
        cli.run(['get', 'vm', 'full', '--colour']),
      ]);

      expect(cpu.code).toBe(2);
      expectOneLine(cpu.stderr, /--cpu "many" is not a non-negative whole number/);
      expect(policy.code).toBe(2);
      expectOneLine(policy.stderr, /--restart-policy "Always" is not one of: Never, OnFailure/);
      expect(unknown.code).toBe(2);
      expectOneLine(unknown.stderr, /unknown option '--colour'/);
      await expect(controller.client.getVm('bad')).rejects.toMatchObject({ status: 404 });
    });

    it('a missing argument is one line and exit 2', async () => {
      const result = await cli.run(['get', 'vm']);

      expect(result.code).toBe(2);
      expectOneLine(result.stderr, /missing required argument 'name'/);
    });

    it('a startup script file that cannot be read is one line naming the file', async () => {
      const result = await cli.run(['create', 'vm', 'bad', '--startup-script', '@/nonexistent/script.sh']);

      expect(result.code).toBe(2);
      expectOneLine(result.stderr, /cannot read \/nonexistent\/script\.sh: ENOENT/);
    });

    it('controller run with a bad --listen is one line and exit 2', async () => {
      const result = await cli.run(['controller', 'run', '--listen', 'nowhere']);

      expect(result.code).toBe(2);
      expectOneLine(result.stderr, /--listen "nowhere" is not an address/);
    });
  });

  it('controller run shuts down cleanly on SIGTERM and exits 0', async () => {
    const result = await controller.process.stop();

    expect(result.stdout).toContain('SIGTERM: shutting down');
    expect(result.signal).toBeNull();
    expect(result.code).toBe(0);
  });
});
