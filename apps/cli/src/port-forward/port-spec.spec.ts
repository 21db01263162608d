import { UsageError } from '../common/errors.js';
import { parsePortSpec, parseStdioPortSpec } from './port-spec.js';

describe('parsePortSpec', () => {
  it.each([
    ['2222:22', { localPort: 2222, remotePort: 22 }],
    ['0:22', { localPort: 0, remotePort: 22 }],
    [':22', { localPort: 0, remotePort: 22 }],
    ['22', { localPort: 0, remotePort: 22 }],
    ['65535:65535', { localPort: 65535, remotePort: 65535 }],
  ])('reads %p as %p', (spec, expected) => {
    expect(parsePortSpec(spec)).toEqual(expected);
  });

  it.each(['', ':', '22:', '0', '0:0', '1:2:3', '70000', '22:70000', 'ssh', '-1:22', '2.5:22', ' 22'])(
    'refuses %p as a usage error',
    (spec) => {
      expect(() => parsePortSpec(spec)).toThrow(UsageError);
    },
  );
});

describe('parseStdioPortSpec', () => {
  it('takes the remote port alone, or with an empty or zero local port', () => {
    expect(parseStdioPortSpec('22')).toBe(22);
    expect(parseStdioPortSpec(':22')).toBe(22);
    expect(parseStdioPortSpec('0:22')).toBe(22);
  });

  it('refuses a local port, which --stdio has no use for', () => {
    expect(() => parseStdioPortSpec('2222:22')).toThrow(/--stdio/);
  });
});
