import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests open real loopback sockets and temp folders; two workers match the 2-core CI box.
    pool: 'forks',
    maxWorkers: 2,
  },
});
