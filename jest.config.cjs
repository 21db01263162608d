// Jest runs in native ESM mode (NestJS 12 ships ESM only); @swc/jest strips types and keeps
// decorator metadata. Specs live beside the code, end-to-end suites in test/.
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
      keepClassNames: true,
    },
    module: { type: 'es6' },
    sourceMaps: 'inline',
  },
];

module.exports = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper: {
    '^#api$': '<rootDir>/libs/api/src/index.ts',
    '^#client$': '<rootDir>/libs/client/src/index.ts',
    '^#pipe$': '<rootDir>/libs/pipe/src/index.ts',
    '^#protocol$': '<rootDir>/libs/protocol/src/index.ts',
    '^#process$': '<rootDir>/libs/process/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testMatch: [
    '<rootDir>/apps/**/*.spec.ts',
    '<rootDir>/libs/**/*.spec.ts',
    '<rootDir>/test/**/*.e2e-spec.ts',
  ],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 60000,
  maxWorkers: 2,
};
