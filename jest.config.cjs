/** Jest runs TypeScript through SWC (transpile only); `tsc -b` is the typecheck gate. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/examples'],
  testMatch: ['**/test/**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }] },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  testTimeout: 30000,
  setupFiles: ['<rootDir>/scripts/jest-fast-check.cjs'],
  reporters: ['default', '<rootDir>/scripts/jest-summary-reporter.cjs'],
};
