/** Writes RESULTS.md and the SVG chart from a run file. */
import { writeFileSync } from "node:fs";
import { basename } from "node:path";
import type { ScenarioId } from "../load/spec.js";
import { cellFor, costRatio, ratio, type Cell } from "./aggregate.js";
import { renderChart } from "./chart.js";
import { CHECKS, margin, type Check } from "./checks.js";
import { EXPLANATIONS } from "./explanations.js";
import { formatBytes, formatNumber, formatPercent, formatRatio } from "./format.js";
import type { MachineInfo } from "./machine.js";
import type { RunRecord } from "./runner.js";
import { SCENARIOS, type Profile, type Scenario } from "./scenarios.js";
import { TARGETS, runsIn, type Target } from "./targets.js";

/** Everything one invocation of the benchmark produced (saved as bench/out/run-*.json). */
export interface RunFile {
  profile: Profile;
  runs: number;
  partial: boolean;
  command: string;
  startedAt: string;
  finishedAt: string;
  machine: MachineInfo;
  placement: string;
  windows: { warmupMs: number; durationMs: number; settleMs: number };
  targets: Array<{ id: string; unavailable?: string }>;
  scenarios: ScenarioId[];
  records: RunRecord[];
}

/** A load generator above this share of its core may have limited the result. */
const LOAD_BOUND = 0.9;
/** A server that waited for its core longer than this share of the window competed with other work. */
const CONTENDED = 0.1;

type Cells = Map<string, Map<string, Cell>>;

function buildCells(file: RunFile, scenarios: readonly Scenario[], targets: readonly Target[]): Cells {
  const cells: Cells = new Map();
  for (const scenario of scenarios) {
    const row = new Map<string, Cell>();
    for (const target of targets) if (runsIn(target, scenario.id)) row.set(target.id, cellFor(file.records, scenario.id, target.id));
    cells.set(scenario.id, row);
  }
  return cells;
}

function cpu(share: number | undefined): string {
  return share === undefined ? "-" : formatPercent(share);
}

function spreadText(cell: Cell): string {
  if (!cell.summary) return "-";
  if (cell.summary.runs < 2) return "1 run";
  return `${formatPercent(cell.summary.spread)} (${cell.summary.runs} runs)`;
}

function scenarioTable(scenario: Scenario, targets: readonly Target[], cells: Map<string, Cell>, unavailable: Map<string, string>): string {
  const reference = cells.get("ws");
  const latency = scenario.id === "echo" || scenario.id === "echo-binary";
  const head = ["Target", `${scenario.metric.name} (median)`, "spread", "vs raw ws"];
  if (latency) head.push("p50 ms", "p99 ms");
  if (scenario.id === "broadcast-deflate") head.push("compressed");
  if (scenario.id === "idle-memory") head.push("heap/conn", "marginal RSS/conn", "marginal heap/conn");
  else head.push("server µs/op", ...(scenario.id === "echo-binary" ? ["main thread µs/op", "page faults/op"] : []), "server CPU", "server waited", "load CPU");
  const lines = [`| ${head.join(" | ")} |`, `|${head.map((_, index) => (index === 0 ? "---" : "---:")).join("|")}|`];
  for (const target of targets) {
    const cell = cells.get(target.id);
    const name = target.group === "wsmount" ? `**${target.label}**` : target.label;
    if (!cell?.summary) {
      const why = unavailable.get(target.id) ?? (cell?.failures[0] ? `failed: ${cell.failures[0]}` : "no result");
      lines.push(`| ${name} | ${why.replace(/\|/g, "/")} |${" |".repeat(head.length - 2)}`);
      continue;
    }
    const relative = ratio(cell, reference);
    const row = [
      name,
      formatNumber(scenario, cell.summary.median),
      spreadText(cell),
      target.id === "ws" ? "1.00x" : relative === undefined ? "-" : formatRatio(relative),
    ];
    if (latency) row.push(cell.p50?.toFixed(2) ?? "-", cell.p99?.toFixed(2) ?? "-");
    if (scenario.id === "broadcast-deflate") row.push(cell.compressedShare === undefined ? "-" : formatPercent(cell.compressedShare));
    if (scenario.id === "idle-memory") {
      for (const bytes of [cell.heapPerConnection, cell.marginalRssPerConnection, cell.marginalHeapPerConnection]) row.push(bytes === undefined ? "-" : formatBytes(bytes));
    }
    else {
      row.push(
        cell.microsPerOp === undefined ? "-" : cell.microsPerOp.toFixed(cell.microsPerOp < 10 ? 2 : 0),
        ...(scenario.id === "echo-binary"
          ? [cell.mainMicrosPerOp === undefined ? "-" : cell.mainMicrosPerOp.toFixed(0), cell.faultsPerOp === undefined ? "-" : cell.faultsPerOp.toFixed(2)]
          : []),
        cpu(cell.serverCpu),
        `${cpu(cell.serverWait)}${(cell.serverWait ?? 0) > CONTENDED ? " (*)" : ""}`,
        `${cpu(cell.loadCpu)}${(cell.loadCpu ?? 0) > LOAD_BOUND ? " (!)" : ""}`,
      );
    }
    lines.push(`| ${row.join(" | ")} |`);
  }
  return lines.join("\n");
}

interface CheckOutcome {
  check: Check;
  ratio?: number;
  /** The same comparison by server CPU per operation (higher = subject cheaper), when measured. */
  costRatio?: number;
  margin?: number;
  notes: string[];
}

function evaluate(check: Check, cells: Cells, unavailable: Map<string, string>): CheckOutcome {
  const row = cells.get(check.scenario);
  const subject = row?.get(check.subject);
  const reference = row?.get(check.reference);
  const outcome: CheckOutcome = { check, notes: [] };
  for (const [id, cell] of [
    [check.subject, subject],
    [check.reference, reference],
  ] as const) {
    if (!cell?.summary) outcome.notes.push(`${id}: ${unavailable.get(id) ?? (cell?.failures[0] ? `failed (${cell.failures[0]})` : "no result")}`);
  }
  const value = ratio(subject, reference);
  if (value === undefined) return outcome;
  outcome.ratio = value;
  outcome.margin = margin(check, value);
  const cost = costRatio(subject, reference);
  if (cost !== undefined) outcome.costRatio = cost;
  const pairs = [
    [check.subject, subject],
    [check.reference, reference],
  ] as const;
  const loadBound = pairs.filter(([, cell]) => (cell?.loadCpu ?? 0) > LOAD_BOUND).map(([id, cell]) => `${id} ${formatPercent(cell!.loadCpu!)}`);
  if (loadBound.length) outcome.notes.push(`load generator near its limit (${loadBound.join(", ")}): that number may be capped by the client.`);
  const waited = pairs.filter(([, cell]) => (cell?.serverWait ?? 0) > CONTENDED).map(([id, cell]) => `${id} ${formatPercent(cell!.serverWait!)}`);
  if (waited.length) outcome.notes.push(`server waited for its core (${waited.join(", ")} of the window).`);
  const spread = Math.max(subject?.summary?.spread ?? 0, reference?.summary?.spread ?? 0);
  if (spread > Math.abs(outcome.margin)) outcome.notes.push(`Run-to-run spread (${formatPercent(spread)}) is larger than the margin: not conclusive.`);
  return outcome;
}

function checkLabel(check: Check, targets: readonly Target[], scenarios: readonly Scenario[]): string {
  const label = (id: string): string => targets.find((target) => target.id === id)?.label ?? id;
  const title = scenarios.find((scenario) => scenario.id === check.scenario)?.title ?? check.scenario;
  return `${title}: ${label(check.subject)} vs ${label(check.reference)}`;
}

function checksSection(outcomes: CheckOutcome[], targets: readonly Target[], scenarios: readonly Scenario[], profile: Profile): string {
  const lines = ["| Target | Required | Measured | By server CPU per op | Verdict |", "|---|---:|---:|---:|---|"];
  const notes: string[] = [];
  const missedKinds = new Set<Check["kind"]>();
  for (const outcome of outcomes) {
    const { check } = outcome;
    const required = `${check.op} ${formatRatio(check.factor)}`;
    const label = checkLabel(check, targets, scenarios);
    if (outcome.ratio === undefined || outcome.margin === undefined) {
      lines.push(`| ${label} | ${required} | - | - | not measured |`);
      notes.push(`- **${label}**: not measured. ${outcome.notes.join("; ")}.`);
      continue;
    }
    const missed = outcome.margin < 0;
    if (missed) missedKinds.add(check.kind);
    const verdict = missed
      ? `**not met**: ${check.op === ">=" ? `${formatPercent(-outcome.margin)} short` : `${formatPercent(-outcome.margin)} over`}`
      : `met (${formatPercent(outcome.margin)} margin)`;
    const cost = outcome.costRatio === undefined ? "-" : formatRatio(outcome.costRatio);
    lines.push(`| ${label} | ${required} | ${formatRatio(outcome.ratio)} | ${cost} | ${verdict} |`);
    if (outcome.notes.length > 0) notes.push(`- **${label}**: ${outcome.notes.join(" ")}`);
  }
  const why = [...missedKinds].filter((kind) => EXPLANATIONS[kind]).map((kind) => `- **${kind}**: ${EXPLANATIONS[kind]}`);
  const intro =
    profile === "quick"
      ? "Verdicts of a quick run (one short run) are indicative only: its ratios move by tens of percent from run to run on a shared machine."
      : "Verdicts compare medians. \"By server CPU per op\" is the same comparison made with the server's CPU time per operation (reference / target), which stays meaningful when other work competed for the CPU.";
  return [
    intro,
    lines.join("\n"),
    notes.length ? `Automatic notes:\n\n${notes.join("\n")}` : "",
    why.length ? `Why targets are missed:\n\n${why.join("\n")}` : "",
  ]
    .filter((part) => part !== "")
    .join("\n\n");
}

function contention(cells: Cells): string {
  const measured = [...cells.values()].flatMap((row) => [...row.values()]).filter((cell) => cell.serverWait !== undefined);
  const contended = measured.filter((cell) => cell.serverWait! > CONTENDED);
  if (measured.length === 0) return "";
  if (contended.length === 0) return "- Contention: no server waited for its core more than 10% of a window.";
  return `- Contention: in ${contended.length} of ${measured.length} measured pairs the server waited for its core more than 10% of the window (other work on the machine): rates are lowered unevenly there; the comparisons by server CPU per operation hold up better.`;
}

function header(file: RunFile, cells: Cells): string {
  const duration = Math.round((Date.parse(file.finishedAt) - Date.parse(file.startedAt)) / 1000);
  const windows = `${file.windows.warmupMs} ms warm-up, ${file.windows.durationMs} ms measured`;
  const status =
    file.profile === "quick"
      ? `> **Quick run** (${file.runs} run, ${windows}): it proves the harness works end to end. Its numbers are indicative only; \`npm run bench\` produces the results to quote (medians of 3 interleaved runs).`
      : `> Full run: medians of ${file.runs} interleaved runs (${windows} per pair), run-to-run spread shown.`;
  const m = file.machine;
  return [
    "# wsmount benchmark results",
    "",
    status,
    "",
    "![Benchmark chart](results.svg)",
    "",
    `- Command: \`${file.command}\` (started ${file.startedAt}, ${duration} s in all)`,
    `- Revision: ${m.revision}`,
    `- Machine: ${m.cpu}, ${m.logicalCores} logical cores, ${m.memoryGiB} GiB, ${m.os}; load average ${m.loadAverage.toFixed(2)} at start (the machine may be shared)`,
    `- Runtime: Node ${m.node} (V8 ${m.v8})`,
    `- Placement: ${file.placement}`,
    ...(contention(cells) ? [contention(cells)] : []),
  ].join("\n");
}

function methodSection(file: RunFile, scenarios: readonly Scenario[], targets: readonly Target[]): string {
  const lines = [
    "## Method",
    "",
    "- For every (target, scenario) pair the runner starts the server and the load generator as two separate processes (`node --import tsx`), pinned to different cores when taskset is available, waits for the server's `READY <port>`, lets the load generator warm up and measure one window, samples both processes' CPU time from `/proc/<pid>/stat` over exactly that window, then kills both process groups (also on timeouts, errors and Ctrl-C). Every pair is bounded in time.",
    `- Runs are interleaved: run 1 measures every target in every scenario, then run 2, and so on; the target order rotates each run. The table shows the median over runs and the spread (max - min) / median.`,
    "- Every server implements one contract (`bench/servers/contract.ts`): `/echo`, `/bcast` (a chat room), `/auth` (one auth-like middleware checking an Authorization header before the upgrade). Each is written the way that library's documentation shows. Heartbeat is on everywhere (the library's own, or the ws README recipe at 30 s).",
    "- Load generator (`bench/load`): a minimal WebSocket client that writes prebuilt masked frames and counts the frames that come back. On this 2-core machine the `ws` client costs as much CPU per message as the server, so with it the client, not the server, is the bottleneck (it held uWebSockets.js to about 200k echoes/s, where this client measures over 1M/s). Before measuring, each target is checked with the real client of its protocol (`ws`, or socket.io-client with `transports: [\"websocket\"]`): echo content, broadcast to all, auth refused without token. A target failing that check gets no numbers.",
    "- socket.io: the load generator speaks its wire protocol (Engine.IO 4 + Socket.IO 5 over WebSocket, the bytes socket.io-client sends with `transports: [\"websocket\"]`): messages are events (`42[\"echo\",...]`), binary messages carry an attachment frame, handshakes count at the namespace CONNECT acknowledgement, and auth is `io.of(\"/auth\").use(...)`, which socket.io runs after the WebSocket upgrade.",
    "- Compressed frames are counted, not inflated, by the load generator; the `compressed` column shows the share of deliveries that arrived compressed.",
    "",
    "Scenarios:",
    "",
    ...scenarios.map((scenario) => `- **${scenario.title}**: ${scenario.method(file.profile)}`),
    "",
    "Targets:",
    "",
    ...targets.map((target) => `- **${target.label}** (\`${target.server}\`)${target.note ? `: ${target.note}` : ""}`),
  ];
  return lines.join("\n");
}

function versionsSection(file: RunFile): string {
  const rows = Object.entries(file.machine.versions).map(([name, version]) => `| ${name} | ${version} |`);
  return ["## Versions", "", "| Package | Version |", "|---|---|", ...rows].join("\n");
}

function failuresSection(file: RunFile): string {
  const failed = file.records.filter((record) => record.value === undefined);
  const unavailable = file.targets.filter((target) => target.unavailable);
  if (failed.length === 0 && unavailable.length === 0) return "";
  const lines = ["## Targets not run and failed runs", ""];
  for (const target of unavailable) lines.push(`- ${target.id}: not run: ${target.unavailable}`);
  for (const record of failed) lines.push(`- run ${record.run}, ${record.scenario}, ${record.target}: ${(record.error ?? "no value").split("\n").slice(0, 3).join(" / ")}`);
  return lines.join("\n");
}

function probesSection(cells: Cells, targets: readonly Target[]): string {
  const handshake = cells.get("handshake");
  if (!handshake) return "";
  const lines = ["## How each target refuses a handshake without the token", "", "| Target | Outcome |", "|---|---|"];
  for (const target of targets) {
    const probe = handshake.get(target.id)?.probe;
    if (probe) lines.push(`| ${target.label} | ${probe} |`);
  }
  return lines.length > 4 ? lines.join("\n") : "";
}

/** Writes the markdown and SVG; returns the paths written. */
export function writeReport(file: RunFile, paths: { markdown: string; svg: string }): string[] {
  const scenarios = SCENARIOS.filter((scenario) => file.scenarios.includes(scenario.id));
  const targets = TARGETS.filter((target) => file.targets.some((entry) => entry.id === target.id));
  const unavailable = new Map(file.targets.filter((target) => target.unavailable).map((target) => [target.id, `not run: ${target.unavailable}`]));
  const cells = buildCells(file, scenarios, targets);
  const outcomes = CHECKS.filter((check) => file.scenarios.includes(check.scenario)).map((check) => evaluate(check, cells, unavailable));
  const caption = `${file.profile === "quick" ? "QUICK RUN (indicative only)" : `${file.runs} interleaved runs`} | ${file.machine.cpu}, ${file.machine.logicalCores} cores | Node ${file.machine.node} | ${file.startedAt.slice(0, 10)} | rev ${file.machine.revision}`;
  writeFileSync(paths.svg, renderChart({ scenarios, targets, cells, unavailable: new Set(unavailable.keys()), caption, quick: file.profile === "quick" }));
  const sections = [
    header(file, cells).replace("results.svg", basename(paths.svg)),
    "## Targets from the issue",
    checksSection(outcomes, targets, scenarios, file.profile),
    "## Results",
    ...scenarios.flatMap((scenario) => [`### ${scenario.title}`, scenario.method(file.profile), scenarioTable(scenario, targets.filter((target) => runsIn(target, scenario.id)), cells.get(scenario.id)!, unavailable)]),
    "(!) = the load generator used more than 90% of its core: that number may be capped by the client. (*) = the server's main thread waited for its core more than 10% of the window (time runnable but not running, from `/proc/<pid>/schedstat`): other work on the machine competed with it.",
    probesSection(cells, targets),
    methodSection(file, scenarios, targets),
    versionsSection(file),
    failuresSection(file),
  ].filter((section) => section !== "");
  writeFileSync(paths.markdown, `${sections.join("\n\n")}\n`);
  return [paths.markdown, paths.svg];
}
