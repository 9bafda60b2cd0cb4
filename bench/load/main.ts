/**
 * Load generator entry: `node --import tsx bench/load/main.ts '<LoadSpec JSON>'`.
 * Probes the target with its real client, runs the scenario, prints `RESULT <json>` and exits.
 * Lines on stdout: MEASURE_START, MEASURE_END (window bounds), HOLDING <n> (idle scenario), RESULT.
 */
import { probe } from "./probe.js";
import { runScenario } from "./scenarios.js";
import { parseSpec, type LoadResult } from "./spec.js";

const spec = parseSpec(process.argv[2]);

function finish(result: LoadResult): never {
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
}

const deadline = setTimeout(() => finish({ scenario: spec.scenario, error: `load generator timed out after ${spec.timeoutMs} ms` }), spec.timeoutMs);
deadline.unref();

const checked = await probe(spec.scenario, spec.protocol, spec.port);
if (!checked.ok) finish({ scenario: spec.scenario, probe: checked, error: `probe failed: ${checked.detail}` });
const result = await runScenario(spec).catch((error: Error): LoadResult => ({ scenario: spec.scenario, error: error.message }));
finish({ ...result, probe: checked });
