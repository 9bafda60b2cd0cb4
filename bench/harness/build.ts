/**
 * Builds the package before a run: the servers import wsmount as users do (`wsmount/express`...,
 * resolved to `dist/`), compiled by tsc like the peers' published JavaScript, not transformed on the
 * fly from the TypeScript sources.
 */
import { execFileSync } from "node:child_process";

export function buildPackage(root: string): void {
  execFileSync("npm", ["run", "build"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
}

/**
 * The environment a server runs in: tsx reads the project's tsconfig, whose `paths` and
 * `customConditions` send `wsmount/*` to the TypeScript sources (for the tests); this one sends it to
 * `dist/`.
 */
export const SERVER_ENV: Readonly<Record<string, string>> = { TSX_TSCONFIG_PATH: "bench/tsconfig.dist.json" };
