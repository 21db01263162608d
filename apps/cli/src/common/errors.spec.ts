import { ApiError, ConnectionError } from '#client';

import { CommandFailedError, EXIT_FAILURE, EXIT_USAGE, reportError, UsageError } from './errors.js';

function report(error: unknown): { code: number; stderr: string } {
  let stderr = '';
  const code = reportError(error, { write: (text: string) => (stderr += text) });
  return { code, stderr };
}

describe(reportError.name, () => {
  it('reports a usage error as one line and exit 2', () => {
    expect(report(new UsageError('--cpu "x" is not a number'))).toEqual({
      code: EXIT_USAGE,
      stderr: 'Error: --cpu "x" is not a number\n',
    });
  });

  it('reports API, connection and command failures as one line and exit 1', () => {
    for (const error of [
      new ApiError(404, 'VM "x" not found'),
      new ConnectionError(
        'http://h:6120',
        'cannot reach the controller at http://h:6120: connection refused',
      ),
      new CommandFailedError('VM "x" failed: boom'),
    ]) {
      expect(report(error)).toEqual({ code: EXIT_FAILURE, stderr: `Error: ${error.message}\n` });
    }
  });

  it('keeps any other error to one line, without its stack', () => {
    const error = new Error('first\n  second\n');

    expect(report(error)).toEqual({ code: EXIT_FAILURE, stderr: 'Error: first second\n' });
  });

  it("passes commander's errors through silently (commander printed them), help and version as success", () => {
    expect(report({ code: 'commander.unknownOption', exitCode: 1, message: 'x' })).toEqual({
      code: EXIT_USAGE,
      stderr: '',
    });
    expect(report({ code: 'commander.helpDisplayed', exitCode: 0, message: '(outputHelp)' })).toEqual({
      code: 0,
      stderr: '',
    });
  });
});
