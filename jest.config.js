// Two projects: the fast unit suite (npm test) and the end-to-end suite that
// provisions real sandbox VPSes (npm run test:e2e, needs root).
// ts-jest transpiles only (isolatedModules in tsconfig.json); `tsc --noEmit` type-checks.
const tsJest = ["ts-jest", {}];
module.exports = {
  reporters: ["default", "<rootDir>/tests/support/summary-reporter.js"],
  projects: [
    {
      displayName: "unit",
      testEnvironment: "node",
      transform: { "^.+\\.ts$": tsJest },
      testMatch: ["<rootDir>/tests/unit/**/*.test.ts"],
    },
    {
      displayName: "e2e",
      testEnvironment: "node",
      transform: { "^.+\\.ts$": tsJest },
      testMatch: ["<rootDir>/tests/e2e/**/*.test.ts"],
    },
  ],
};
