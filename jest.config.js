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
  // Three suites at a time on two cores: with two, a fifth of the CPU sat idle while suites waited on
  // servers, timers, heartbeats and kills (vmstat over a whole run: 20 % idle with two, 6.5 % with
  // three; the run 681 → 527 s). Every suite owns its servers, ports and ids, so more at once changes
  // only how busy the machine is, which every suite has to bear anyway.
  maxWorkers: 3,
};
