/**
 * Where the server's CPU goes, per operation: runs one scenario against each target (server and load
 * generator pinned as in the benchmark), CPU-profiles the server during the measurement window only
 * (no start-up, no warm-up), and prints the microseconds per operation by part: the kernel calls Node
 * makes, Node's TCP and stream code, its HTTP server, the framework, ws, wsmount, garbage collection,
 * Node's internal errors.
 *
 *   npm run bench:profile -- --targets ws,wsmount-node --scenario handshake [--seconds 8] [--out bench/out/profiles]
 */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { detectPlacement, killAll } from "../harness/child.js";
import { startLoad, startServer } from "../harness/runner.js";
import { scenario as scenarioById, type Scenario } from "../harness/scenarios.js";
import { TARGETS, type Target } from "../harness/targets.js";
import type { LoadResult, LoadSpec, ScenarioId } from "../load/spec.js";
import { buildPackage } from "../harness/build.js";
import { summarize, type Breakdown } from "./summarize.js";

const root = resolve(import.meta.dirname, "../..");
const { values } = parseArgs({
  options: {
    targets: { type: "string", default: "ws,wsmount-node" },
    scenario: { type: "string", default: "handshake" },
    seconds: { type: "string", default: "8" },
    out: { type: "string", default: "bench/out/profiles" },
  },
});
const scenario = scenarioById(values.scenario as ScenarioId);
const seconds = Number(values.seconds);
const outDir = resolve(root, values.out);
mkdirSync(outDir, { recursive: true });
const placement = detectPlacement();
buildPackage(root);

async function profileOne(target: Target, scenario: Scenario): Promise<Breakdown> {
  const server = startServer(root, target, scenario, placement);
  try {
    const port = Number(await server.waitFor("READY", 30_000));
    const spec: LoadSpec = {
      scenario: scenario.id,
      protocol: target.protocol,
      port,
      warmupMs: 2_000,
      durationMs: seconds * 1000,
      params: scenario.params("full") as LoadSpec["params"],
      timeoutMs: 120_000,
    };
    const load = startLoad(root, target, spec, placement);
    try {
      const result = load.waitFor("RESULT", spec.timeoutMs);
      await load.waitFor("MEASURE_START", spec.timeoutMs);
      server.send("profile-start");
      await server.waitFor("PROFILING", 10_000);
      await load.waitFor("MEASURE_END", spec.timeoutMs);
      const path = join(outDir, `${target.id}-${scenario.id}.cpuprofile`);
      server.send(`profile-stop ${path}`);
      await server.waitFor("PROFILE", 30_000);
      const loadResult = JSON.parse(await result) as LoadResult;
      if (loadResult.error) throw new Error(`${target.id}: ${loadResult.error}`);
      return summarize(path, loadResult.messages ?? 0);
    } finally {
      await load.kill();
    }
  } finally {
    await server.kill();
  }
}

const wanted = values.targets.split(",");
const results: Array<[Target, Breakdown]> = [];
try {
  for (const id of wanted) {
    const target = TARGETS.find((t) => t.id === id);
    if (target === undefined) throw new Error(`unknown target ${id}`);
    const breakdown = await profileOne(target, scenario);
    results.push([target, breakdown]);
    process.stderr.write(`${target.id}: ${breakdown.operations} operations, ${breakdown.busyPerOp.toFixed(1)} µs of server CPU each\n`);
  }
} finally {
  killAll();
}

const parts = [...new Set(results.flatMap(([, b]) => [...b.parts.keys()]))];
const rows = [`| part (µs of server CPU per ${scenario.id === "handshake" ? "handshake" : "message"}) | ${results.map(([t]) => t.label).join(" | ")} |`];
rows.push(`|---|${results.map(() => "---:").join("|")}|`);
for (const part of parts) rows.push(`| ${part} | ${results.map(([, b]) => (b.parts.get(part) ?? 0).toFixed(1)).join(" | ")} |`);
rows.push(`| **total** | ${results.map(([, b]) => `**${b.busyPerOp.toFixed(1)}**`).join(" | ")} |`);
console.log(`${scenario.title}; ${seconds} s profiled per target after 2 s of warm-up; ${placement.description}\n`);
console.log(rows.join("\n"));
for (const [target, breakdown] of results) {
  console.log(`\n${target.label}: the functions that cost most (µs per operation, self time)`);
  for (const [name, us] of breakdown.functions.slice(0, 15)) console.log(`  ${us.toFixed(2).padStart(7)}  ${name}`);
}
