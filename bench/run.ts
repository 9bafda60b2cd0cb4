/**
 * wsmount benchmark: every target through every scenario, interleaved over several runs.
 *
 *   npm run bench          full: 3 runs, all scenarios, all targets (about 15-20 minutes on 2 cores)
 *   npm run bench:quick    1 run, short windows (a couple of minutes): checks the harness end to end
 *
 * Options: --runs N, --targets id,id, --scenarios id,id (a filtered run writes bench/out/RESULTS-partial.md
 * instead of bench/RESULTS.md), --quick, --params '<json>' (merged into every scenario's load parameters, for
 * experiments; also makes the run partial).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { detectPlacement, killAll } from "./harness/child.js";
import { describeMachine } from "./harness/machine.js";
import { buildPackage } from "./harness/build.js";
import { writeReport, type RunFile } from "./harness/report.js";
import { runPair, type RunRecord } from "./harness/runner.js";
import { SCENARIOS, WINDOWS, type Profile } from "./harness/scenarios.js";
import { TARGETS, runsIn, unavailability } from "./harness/targets.js";
import { formatValue } from "./harness/format.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    runs: { type: "string" },
    targets: { type: "string" },
    scenarios: { type: "string" },
    params: { type: "string" },
  },
});

const profile: Profile = values.quick ? "quick" : "full";
const runs = values.runs ? Number.parseInt(values.runs, 10) : WINDOWS[profile].runs;
if (!Number.isInteger(runs) || runs < 1) throw new TypeError(`--runs must be a positive integer, got "${values.runs}"`);
const pick = <T extends { id: string }>(all: readonly T[], list: string | undefined, what: string): T[] => {
  if (!list) return [...all];
  const ids = list.split(",").map((id) => id.trim());
  for (const id of ids) if (!all.some((item) => item.id === id)) throw new TypeError(`--${what}: unknown "${id}" (known: ${all.map((item) => item.id).join(", ")})`);
  return all.filter((item) => ids.includes(item.id));
};
const targets = pick(TARGETS, values.targets, "targets");
const scenarios = pick(SCENARIOS, values.scenarios, "scenarios");
const paramsOverride = values.params ? (JSON.parse(values.params) as Record<string, unknown>) : undefined;
const partial = targets.length !== TARGETS.length || scenarios.length !== SCENARIOS.length || paramsOverride !== undefined;

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}
process.on("exit", killAll);

const placement = detectPlacement();
const machine = describeMachine(root);
const log = (line: string): void => void process.stderr.write(`${line}\n`);
log("building the package (npm run build): the servers import dist/ as users do");
buildPackage(root);
log(`wsmount bench (${profile}, ${runs} run${runs > 1 ? "s" : ""}): ${placement.description}`);

const availability = targets.map((target) => ({ target, unavailable: unavailability(target, root) }));
for (const { target, unavailable } of availability) if (unavailable) log(`  ${target.id}: not run (${unavailable})`);
const runnable = availability.filter((entry) => entry.unavailable === null).map((entry) => entry.target);

/** How to reproduce this run. */
function commandLine(): string {
  const extra = process.argv.slice(2).filter((arg) => arg !== "--quick");
  return `npm run ${profile === "quick" ? "bench:quick" : "bench"}${extra.length ? ` -- ${extra.map((arg) => (/[\s{}"]/.test(arg) ? `'${arg}'` : arg)).join(" ")}` : ""}`;
}

const startedAt = new Date();
const records: RunRecord[] = [];
for (let run = 1; run <= runs; run++) {
  for (const scenario of scenarios) {
    // Rotate the order each run so no target always goes first (or last) after a given neighbour.
    const shift = (run - 1) % Math.max(1, runnable.length);
    const order = [...runnable.slice(shift), ...runnable.slice(0, shift)].filter((target) => runsIn(target, scenario.id));
    for (const target of order) {
      const record = await runPair({ root, target, scenario, profile, placement, run, ...(paramsOverride ? { paramsOverride } : {}) });
      records.push(record);
      const wait = record.serverWait !== undefined && record.serverWait > 0.05 ? ` (waited for CPU ${Math.round(record.serverWait * 100)}%)` : "";
      const perOp =
        record.serverMicrosPerOp === undefined
          ? ""
          : `  per op: server ${record.serverMicrosPerOp.toFixed(1)} µs` +
            (record.serverMainMicrosPerOp === undefined ? "" : ` (main thread ${record.serverMainMicrosPerOp.toFixed(1)})`) +
            (record.serverFaultsPerOp === undefined ? "" : `, ${record.serverFaultsPerOp.toFixed(2)} page faults`) +
            (record.loadMicrosPerOp === undefined ? "" : `; load ${record.loadMicrosPerOp.toFixed(1)} µs`);
      const cpu = record.serverCpu === undefined ? "" : `  cpu server ${Math.round(record.serverCpu * 100)}%${wait} load ${Math.round((record.loadCpu ?? 0) * 100)}%${perOp}`;
      const shown = record.value === undefined ? `FAILED: ${record.error?.split("\n")[0]}` : formatValue(scenario, record.value);
      log(`[run ${run}/${runs}] ${scenario.id.padEnd(17)} ${target.id.padEnd(18)} ${shown}${cpu}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

const file: RunFile = {
  profile,
  runs,
  partial,
  command: commandLine(),
  startedAt: startedAt.toISOString(),
  finishedAt: new Date().toISOString(),
  machine,
  placement: placement.description,
  windows: WINDOWS[profile],
  targets: availability.map(({ target, unavailable }) => ({ id: target.id, ...(unavailable ? { unavailable } : {}) })),
  scenarios: scenarios.map((scenario) => scenario.id),
  records,
};
const out = join(root, "bench", "out");
mkdirSync(out, { recursive: true });
const stamp = startedAt.toISOString().replace(/[:.]/g, "-");
const rawPath = join(out, `run-${stamp}.json`);
writeFileSync(rawPath, `${JSON.stringify(file, null, 2)}\n`);
const written = writeReport(file, partial ? { markdown: join(out, "RESULTS-partial.md"), svg: join(out, "results-partial.svg") } : {
  markdown: join(root, "bench", "RESULTS.md"),
  svg: join(root, "bench", "results.svg"),
});
log(`raw results: ${relative(root, rawPath)}; report: ${written.map((path) => relative(root, path)).join(", ")}`);
