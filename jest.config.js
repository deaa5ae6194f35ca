/** @type {import('jest').Config} */
module.exports = {
  // Node's environment, plus removing a passing file's databases and temporary directories.
  testEnvironment: "<rootDir>/test/helpers/environment.ts",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json" }] },
  globalSetup: "<rootDir>/test/helpers/global-setup.ts",
  globalTeardown: "<rootDir>/test/helpers/global-teardown.ts",
  testTimeout: 60000,
  // Integration tests share one PostgreSQL server and one WordPress; two workers match the 2-core machine.
  maxWorkers: 2,
};
