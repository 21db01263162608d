import { DEFAULT_CONTROLLER_URL, resolveClientConfig, resolveConnection } from './client-config.js';
import type { Contexts } from './contexts.js';
import { ClientConfigError } from './errors.js';

const contexts: Contexts = {
  defaultContext: 'prod',
  contexts: {
    prod: { url: 'http://prod:6120', serviceAccountName: 'ci', serviceAccountToken: 'file-token' },
  },
};

describe(resolveClientConfig.name, () => {
  it('keeps the contexts file in ~/.orchard by default', () => {
    expect(resolveClientConfig({}, '/home/me')).toEqual({
      home: '/home/me/.orchard',
      contextsFile: '/home/me/.orchard/orchard.yml',
      overrides: {},
    });
  });

  it('keeps it in ORCHARD_HOME when set', () => {
    expect(resolveClientConfig({ ORCHARD_HOME: '/etc/orchard' }, '/home/me').contextsFile).toBe(
      '/etc/orchard/orchard.yml',
    );
  });

  it('takes the ORCHARD_URL and ORCHARD_SERVICE_ACCOUNT_* variables as overrides, ignoring empty ones', () => {
    const config = resolveClientConfig(
      {
        ORCHARD_URL: 'http://env:6120',
        ORCHARD_SERVICE_ACCOUNT_NAME: '',
        ORCHARD_SERVICE_ACCOUNT_TOKEN: 'env-token',
      },
      '/home/me',
    );

    expect(config.overrides).toEqual({ url: 'http://env:6120', serviceAccountToken: 'env-token' });
  });
});

describe(resolveConnection.name, () => {
  it('uses the default context', () => {
    expect(resolveConnection(contexts, {})).toEqual({
      url: 'http://prod:6120',
      serviceAccountName: 'ci',
      serviceAccountToken: 'file-token',
    });
  });

  it('lets each environment override win over its field of the context', () => {
    expect(resolveConnection(contexts, { serviceAccountToken: 'env-token' })).toEqual({
      url: 'http://prod:6120',
      serviceAccountName: 'ci',
      serviceAccountToken: 'env-token',
    });
  });

  it('falls back to a controller on this machine when nothing is configured', () => {
    expect(resolveConnection({ defaultContext: null, contexts: {} }, {})).toEqual({
      url: DEFAULT_CONTROLLER_URL,
      serviceAccountName: undefined,
      serviceAccountToken: undefined,
    });
  });

  it('refuses a default context that does not exist, unless ORCHARD_URL says where to go', () => {
    const dangling: Contexts = { defaultContext: 'gone', contexts: {} };

    expect(() => resolveConnection(dangling, {})).toThrow(ClientConfigError);
    expect(resolveConnection(dangling, { url: 'http://env:6120' }).url).toBe('http://env:6120');
  });
});
