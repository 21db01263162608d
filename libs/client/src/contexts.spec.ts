import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  addContext,
  deleteContext,
  loadContexts,
  parseContexts,
  saveContexts,
  setDefaultContext,
  stringifyContexts,
  type Contexts,
} from './contexts.js';
import { ClientConfigError } from './errors.js';

/** A file as Orchard's Go CLI writes it (the certificate is a base64 PEM). */
const GO_FILE = `default-context: prod
contexts:
  prod:
    url: https://orchard.example.com:6120
    certificate: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t
    serviceAccountName: ci
    serviceAccountToken: s3cr3t
  dev:
    url: http://127.0.0.1:6120
`;

const empty = (): Contexts => ({ defaultContext: null, contexts: {} });
const local = { url: 'http://127.0.0.1:6120' };

describe('contexts file', () => {
  it("reads a file written by Orchard's Go CLI, certificate included", () => {
    expect(parseContexts(GO_FILE, 'orchard.yml')).toEqual({
      defaultContext: 'prod',
      contexts: {
        prod: {
          url: 'https://orchard.example.com:6120',
          certificate: 'LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t',
          serviceAccountName: 'ci',
          serviceAccountToken: 's3cr3t',
        },
        dev: { url: 'http://127.0.0.1:6120' },
      },
    });
  });

  it('writes what it reads back unchanged', () => {
    const contexts = parseContexts(GO_FILE, 'orchard.yml');

    expect(parseContexts(stringifyContexts(contexts), 'again')).toEqual(contexts);
  });

  it('reads an empty file as no contexts', () => {
    expect(parseContexts('', 'orchard.yml')).toEqual(empty());
  });

  it('names the file and the field when the file is malformed', () => {
    expect(() => parseContexts('contexts: [1, 2]', '/home/me/.orchard/orchard.yml')).toThrow(
      new ClientConfigError('/home/me/.orchard/orchard.yml: contexts must be a mapping of name to context'),
    );
    expect(() => parseContexts('contexts:\n  a:\n    url: 5\n', 'f.yml')).toThrow(
      new ClientConfigError('f.yml: contexts.a.url must be a string'),
    );
    expect(() => parseContexts('a: [', 'f.yml')).toThrow(/^f\.yml is not valid YAML/);
  });

  it('makes the first context added the default', () => {
    const contexts = addContext(addContext(empty(), 'a', local), 'b', local);

    expect(contexts.defaultContext).toBe('a');
    expect(Object.keys(contexts.contexts)).toEqual(['a', 'b']);
  });

  it('refuses to replace a context unless forced', () => {
    const contexts = addContext(empty(), 'a', local);

    expect(() => addContext(contexts, 'a', { url: 'http://other:6120' })).toThrow(
      /context "a" already exists/,
    );
    expect(addContext(contexts, 'a', { url: 'http://other:6120' }, true).contexts['a'].url).toBe(
      'http://other:6120',
    );
  });

  it('sets the default only to a context that exists', () => {
    const contexts = addContext(addContext(empty(), 'a', local), 'b', local);

    expect(setDefaultContext(contexts, 'b').defaultContext).toBe('b');
    expect(() => setDefaultContext(contexts, 'c')).toThrow(new ClientConfigError('no such context: "c"'));
  });

  it('hands the default to the first remaining context when the default is deleted', () => {
    const contexts = setDefaultContext(
      addContext(addContext(addContext(empty(), 'c', local), 'b', local), 'a', local),
      'c',
    );

    expect(deleteContext(contexts, 'c')).toMatchObject({ defaultContext: 'a' });
    expect(deleteContext(contexts, 'b')).toMatchObject({ defaultContext: 'c' });
    expect(deleteContext(deleteContext(deleteContext(contexts, 'a'), 'b'), 'c')).toEqual(empty());
    expect(() => deleteContext(contexts, 'x')).toThrow(/no such context: "x"/);
  });

  describe('on disk', () => {
    let dir: string;

    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'orchard-contexts-'));
    });

    it('reads a missing file as no contexts', async () => {
      expect(await loadContexts(join(dir, 'orchard.yml'))).toEqual(empty());
    });

    it('creates the directory and writes the file readable by its owner only', async () => {
      const file = join(dir, 'home', 'orchard.yml');
      await saveContexts(file, addContext(empty(), 'a', { ...local, serviceAccountToken: 't' }));

      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect((await stat(join(dir, 'home'))).mode & 0o777).toBe(0o700);
      expect(await loadContexts(file)).toEqual({
        defaultContext: 'a',
        contexts: { a: { ...local, serviceAccountToken: 't' } },
      });
    });

    it('makes an existing file readable by its owner only when it rewrites it', async () => {
      const file = join(dir, 'orchard.yml');
      await writeFile(file, GO_FILE, { mode: 0o644 });

      await saveContexts(file, setDefaultContext(await loadContexts(file), 'dev'));

      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect(await readFile(file, 'utf8')).toMatch(/^default-context: dev$/m);
    });
  });
});
