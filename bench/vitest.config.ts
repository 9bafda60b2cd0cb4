import { defineConfig } from "vitest/config";

/** The benchmark's own tests (load generator parts, statistics): `npx vitest run --config bench/vitest.config.ts`. */
export default defineConfig({
  resolve: { conditions: ["wsmount-source"] },
  test: {
    include: ["bench/tests/**/*.test.ts"],
    testTimeout: 20_000,
    pool: "forks",
  },
});
