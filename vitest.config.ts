import { defineConfig } from 'vitest/config';

// Unit, parity and real-ONNX tests run in Node; component tests opt into happy-dom with
// `// @vitest-environment happy-dom` at the top of the file. Playwright specs live in e2e/ and are not run here.
export default defineConfig({
  test: {
    include: ['src/**/*.test.{ts,tsx}', 'lab/**/*.test.ts', 'build/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
