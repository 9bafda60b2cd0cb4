import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { conditions: ["wsmount-source"] },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: "forks",
    reporters: process.env.CI ? ["default", ["json", { outputFile: ".vitest-report.json" }]] : ["default"],
  },
});
