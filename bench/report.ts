/**
 * Rewrites bench/RESULTS.md and bench/results.svg from a saved run (bench/out/run-*.json), e.g.
 * after editing harness/explanations.ts: `node --import tsx bench/report.ts bench/out/run-....json`.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeReport, type RunFile } from "./harness/report.js";

const path = process.argv[2];
if (!path) throw new TypeError("usage: node --import tsx bench/report.ts bench/out/run-<stamp>.json");
const file = JSON.parse(readFileSync(path, "utf8")) as RunFile;
const bench = dirname(fileURLToPath(import.meta.url));
const out = file.partial
  ? { markdown: join(bench, "out", "RESULTS-partial.md"), svg: join(bench, "out", "results-partial.svg") }
  : { markdown: join(bench, "RESULTS.md"), svg: join(bench, "results.svg") };
for (const written of writeReport(file, out)) process.stdout.write(`${written}\n`);
