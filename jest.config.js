/**
 * Jest runs TypeScript through ts-jest in transpile-only mode (`isolatedModules`); `npm test` runs
 * `tsc --noEmit` first, so type errors still fail the suite, without type-checking each file twice.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/examples'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  // Temporal servers and workflow bundling are slow to start on a 2-core machine.
  testTimeout: 60_000,
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  maxWorkers: 2,
};
