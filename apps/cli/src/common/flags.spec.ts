import { UsageError } from './errors.js';
import {
  appendList,
  parseChoice,
  parseCount,
  parseDurationFlag,
  parseHostDir,
  parseHostDirPolicy,
  parseKeyValues,
  parseResources,
  parseRoles,
} from './flags.js';

describe(parseKeyValues.name, () => {
  it('reads key=value pairs, comma-separated and across repeats', () => {
    const first = parseKeyValues('--labels', 'pool=ci,size=large');

    expect(parseKeyValues('--labels', 'os = sonoma', first)).toEqual({
      pool: 'ci',
      size: 'large',
      os: 'sonoma',
    });
  });

  it('keeps everything after the first = as the value, and lets a later key win', () => {
    expect(parseKeyValues('--labels', 'expr=a=b,expr=c=d')).toEqual({ expr: 'c=d' });
  });

  it('refuses a pair without a key or without =, naming the flag', () => {
    expect(() => parseKeyValues('--labels', 'pool')).toThrow(
      new UsageError('--labels "pool" is not of the form key=value'),
    );
    expect(() => parseKeyValues('--labels', '=ci')).toThrow(UsageError);
  });
});

describe(parseResources.name, () => {
  it('reads counts as numbers', () => {
    expect(parseResources('--resources', 'org.cirruslabs.tart-vms=1,gpu=2')).toEqual({
      'org.cirruslabs.tart-vms': 1,
      gpu: 2,
    });
  });

  it('refuses a value that is not a whole number', () => {
    expect(() => parseResources('--resources', 'gpu=lots')).toThrow(
      new UsageError('--resources gpu "lots" is not a non-negative whole number'),
    );
  });
});

describe(parseHostDir.name, () => {
  it('reads name:path', () => {
    expect(parseHostDir('src:/Users/ci/src')).toEqual({ name: 'src', path: '/Users/ci/src', ro: false });
  });

  it('reads a trailing :ro as read-only', () => {
    expect(parseHostDir('src:/Users/ci/src:ro')).toEqual({ name: 'src', path: '/Users/ci/src', ro: true });
  });

  it('splits at the first colon only, so a path may contain colons', () => {
    expect(parseHostDir('web:https://example.com/a.tar.gz')).toEqual({
      name: 'web',
      path: 'https://example.com/a.tar.gz',
      ro: false,
    });
  });

  it('refuses a spec without a name or a path', () => {
    expect(() => parseHostDir('/Users/ci/src')).toThrow(/is not of the form name:path\[:ro\]/);
    expect(() => parseHostDir(':/tmp')).toThrow(UsageError);
    expect(() => parseHostDir('src:')).toThrow(UsageError);
  });
});

describe(parseHostDirPolicy.name, () => {
  it('reads a path prefix with an optional :ro', () => {
    expect(parseHostDirPolicy('/Users/ci/src:ro')).toEqual({ pathPrefix: '/Users/ci/src', ro: true });
    expect(parseHostDirPolicy('/tmp')).toEqual({ pathPrefix: '/tmp', ro: false });
  });

  it('refuses a relative prefix', () => {
    expect(() => parseHostDirPolicy('tmp')).toThrow(/is not an absolute path prefix/);
  });
});

describe(parseRoles.name, () => {
  it('reads roles, comma-separated and across repeats, without duplicates', () => {
    expect(parseRoles('compute:write,compute:read', parseRoles('compute:read'))).toEqual([
      'compute:read',
      'compute:write',
    ]);
  });

  it('refuses an unknown role, listing the known ones', () => {
    expect(() => parseRoles('root')).toThrow(
      new UsageError(
        '--roles "root" is not a role (roles: compute:read, compute:write, compute:connect, admin:read, admin:write)',
      ),
    );
  });
});

describe('scalar flags', () => {
  it('parseCount takes whole non-negative numbers only', () => {
    expect(parseCount('--cpu', '8')).toBe(8);
    for (const bad of ['-1', '1.5', 'four', '', '1e3']) {
      expect(() => parseCount('--cpu', bad)).toThrow(UsageError);
    }
  });

  it('parseChoice names the allowed values', () => {
    expect(parseChoice('--os', 'linux', ['darwin', 'linux'])).toBe('linux');
    expect(() => parseChoice('--os', 'windows', ['darwin', 'linux'])).toThrow(
      new UsageError('--os "windows" is not one of: darwin, linux'),
    );
  });

  it('parseDurationFlag takes Go durations and seconds', () => {
    expect(parseDurationFlag('--wait-timeout', '1m30s')).toBe(90_000);
    expect(parseDurationFlag('--wait-timeout', '45')).toBe(45_000);
    expect(() => parseDurationFlag('--wait-timeout', 'soon')).toThrow(UsageError);
  });

  it('appendList splits on commas, drops blanks and appends to what came before', () => {
    expect(appendList(' a, ,b,', ['x'])).toEqual(['x', 'a', 'b']);
    expect(appendList('')).toEqual([]);
  });
});
