import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { conditions: ["wsmount-source"] },
  // Tests run in Vite's server environment, which has conditions of its own: with this, the package's own
  // name ("wsmount/express", as the examples import it) resolves to the TypeScript sources there too.
  ssr: { resolve: { conditions: ["wsmount-source", "module", "node", "development|production"] } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: "forks",
    reporters: process.env.CI ? ["default", ["json", { outputFile: ".vitest-report.json" }]] : ["default"],
  },
});
