// Two projects: the fast unit suite (npm test) and the end-to-end suite that
// provisions real sandbox VPSes (npm run test:e2e, needs root).
const tsJest = ["ts-jest", { isolatedModules: true }];
module.exports = {
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
