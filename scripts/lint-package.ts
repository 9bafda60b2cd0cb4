/**
 * Packs the package as `npm publish` would (running `prepare`, which builds dist/) into a temporary
 * folder, then lints the tarball with publint (warnings count as errors) and @arethetypeswrong/cli.
 * Usage: npm run lint:package [-- path/to/wsmount-x.y.z.tgz]   (a given tarball is linted as it is)
 *
 * attw runs with its `esm-only` profile, which leaves out two resolution modes on purpose:
 * - `node10` (TypeScript's `moduleResolution: "node"`) predates `exports` and cannot see subpaths such as
 *   `wsmount/express`; the README says to use `node16`, `nodenext` or `bundler`.
 * - `node16 (from CJS)`: attw reports "ESM (dynamic import only)" because its bundled TypeScript predates
 *   `require()` of ES modules. Node loads them with `require()` from 20.19 and 22.12 on (the `engines`
 *   range), and TypeScript 5.8+ accepts it under `module: nodenext`; test/package/consumer.test.ts checks
 *   both, with a `.cjs` file run by node and a `.cts` file compiled by tsc.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

function run(command: string, args: string[], cwd?: string): number {
  const result = spawnSync(command, args, { stdio: "inherit", cwd });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

let tarball = process.argv[2] === undefined ? undefined : resolve(process.argv[2]);
let packDir: string | undefined;
if (tarball === undefined) {
  packDir = mkdtempSync(join(tmpdir(), "wsmount-lint-"));
  const packed = spawnSync("npm", ["pack", "--json", "--pack-destination", packDir], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (packed.status !== 0) {
    console.error("npm pack failed");
    process.exit(1);
  }
  // The output of `prepare` (the build) comes before the JSON on stdout.
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.search(/^\[/m))) as Array<{ filename: string; entryCount: number; size: number; unpackedSize: number }>;
  tarball = join(packDir, info!.filename);
  console.log(`packed ${info!.filename}: ${info!.entryCount} files, ${info!.size} B (${info!.unpackedSize} B unpacked)`);
}

let failed = 0;
try {
  console.log(`\npublint ${tarball}`);
  if (run("publint", ["run", "--strict", tarball]) !== 0) failed++;
  console.log(`\nattw ${tarball}`);
  if (run("attw", ["--profile", "esm-only", tarball]) !== 0) failed++;
} finally {
  if (packDir !== undefined) rmSync(packDir, { recursive: true, force: true });
}
console.log(failed === 0 ? "\nlint:package: clean" : `\nlint:package: ${failed} of 2 linters failed`);
process.exit(failed === 0 ? 0 : 1);
