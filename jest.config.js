// Two projects: the fast unit suite (npm test) and the end-to-end suite that
// provisions real sandbox VPSes (npm run test:e2e, needs root).
// ts-jest transpiles only (isolatedModules in tsconfig.json); `tsc --noEmit` type-checks.
const tsJest = ["ts-jest", {}];
module.exports = {
  // The timeout of every unit test, in this one place (jest-circus reads it from the global
  // config only: set in a project, it is silently ignored and 5 s applies). The slowest unit test
  // does about 6 s of work unloaded (scripts run against scratch trees, a few program runs under
  // mocks); 30 s leaves room for a machine whose cores are saturated by something else (measured:
  // docs/tests.md). Every e2e test names its own, longer timeout.
  testTimeout: 30_000,
  reporters: ["default", "<rootDir>/tests/support/summary-reporter.js", "<rootDir>/tests/support/e2e-results-reporter.js"],
  projects: [
    {
      displayName: "unit",
      testEnvironment: "node",
      transform: { "^.+\\.ts$": tsJest },
      testMatch: ["<rootDir>/tests/unit/**/*.test.ts"],
      // The e2e suite's checkouts (copies of this project) are no modules of this one.
      modulePathIgnorePatterns: ["<rootDir>/test-output/"],
    },
    {
      displayName: "e2e",
      testEnvironment: "node",
      transform: { "^.+\\.ts$": tsJest },
      testMatch: ["<rootDir>/tests/e2e/**/*.test.ts"],
      modulePathIgnorePatterns: ["<rootDir>/test-output/"],
      // Golden images before any file boots a VPS; after each file, no VPS left running.
      globalSetup: "<rootDir>/tests/e2e/support/globalSetup.ts",
      setupFilesAfterEnv: ["<rootDir>/tests/e2e/support/noVpsLeftBehind.ts"],
    },
  ],
};
