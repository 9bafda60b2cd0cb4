/**
 * Runs the conformance suite (with the HTTP-level and callback cases of test/hardening) and writes its results table into docs/conformance.md, between the
 * `<!-- results:start -->` and `<!-- results:end -->` markers: one row per case group, one column
 * per mounting style, each cell "pass n/n" or "FAIL k/n".
 *
 *   npx tsx test/conformance/report.ts
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, basename } from "node:path";
import { createRequire } from "node:module";

interface AssertionResult {
  ancestorTitles: string[];
  title: string;
  status: string;
}
interface FileResult {
  name: string;
  assertionResults: AssertionResult[];
}

const MOUNTS = ["express", "fastify", "koa", "node"] as const;
const DOC = new URL("../../docs/conformance.md", import.meta.url);
const START = "<!-- results:start -->";
const END = "<!-- results:end -->";

/** The row a test belongs to, from its file and title. */
function groupOf(file: string, title: string): string {
  switch (file) {
    case "frames.test.ts":
      return `Frames: ${title.slice(0, title.indexOf(":"))}`;
    case "frames-fuzz.test.ts":
      return title.includes("fragmentations") ? "Frames: random fragmentation with pings (fast-check)" : "Frames: random bytes after the handshake (fast-check)";
    case "negotiation.test.ts":
      return "permessage-deflate negotiation (RFC 7692)";
    case "handshake.test.ts":
      if (title.includes("random invalid")) return "Handshake: random invalid handshakes (fast-check)";
      if (title.includes("harmless variations")) return "Handshake: valid variants (fast-check)";
      return "Handshake: named malformed handshakes";
    case "slowloris.test.ts":
      return `Slow clients: ${title}`;
    case "isolation.test.ts":
      return "Isolation: 50 echoing clients beside 200 hostile ones";
    case "leaks.test.ts":
      return "Leaks: 2,000 aborted/refused handshakes + 2,000 resets";
    case "http-upgrade.test.ts":
      return `HTTP: ${httpGroupOf(title)}`;
    case "hooks.test.ts":
      return `Callbacks: ${title.replace(/ (throws|rejects),.*$/, "")}`;
    default:
      return `${file}: ${title}`;
  }
}

/** The row of a case of test/hardening/http-upgrade.test.ts. */
function httpGroupOf(title: string): string {
  if (title.includes("random interleavings")) return "random interleavings (fast-check)";
  if (title.includes("deadline")) return "deadline of a socket left to another listener";
  if (/^(destroy|reset|half-close) /.test(title)) return "resets and half-closes at every step";
  if (/body|chunked|Content-Length/.test(title)) return "upgrade requests with bodies";
  if (/CONNECT|h2c/.test(title)) return "CONNECT and Upgrade: h2c";
  if (/plain request|upgrades (in one write|and a plain)/.test(title)) return "pipelined requests before and after upgrades";
  return "odd request targets and headers";
}

/** Row order: as in the "What each group covers" table. */
const ORDER = [
  "Frames: Framing", "Frames: Ping/pong", "Frames: Reserved bits", "Frames: Opcodes", "Frames: Fragmentation", "Frames: UTF-8",
  "Frames: Close", "Frames: Close codes", "Frames: Limits", "Frames: Compression", "Frames: random", "permessage-deflate",
  "Handshake: named", "Handshake: random", "Handshake: valid", "HTTP: pipelined", "HTTP: upgrade requests", "HTTP: odd",
  "HTTP: CONNECT", "HTTP: resets", "HTTP: deadline", "HTTP: random", "Slow clients", "Isolation", "Leaks", "Callbacks",
];

function rank(group: string): number {
  const exact = ORDER.indexOf(group);
  if (exact !== -1) return exact;
  const index = ORDER.findIndex((prefix) => group === prefix || group.startsWith(`${prefix} `) || group.startsWith(`${prefix}:`));
  return index === -1 ? ORDER.length : index;
}

function mountOf(result: AssertionResult): string | undefined {
  return MOUNTS.find((mount) => result.ancestorTitles.some((title) => title.includes(`'${mount}'`)));
}

function run(): FileResult[] {
  const dir = mkdtempSync(join(tmpdir(), "wsmount-conformance-"));
  const output = join(dir, "results.json");
  try {
    try {
      const files = ["test/conformance", "test/hardening/http-upgrade.test.ts", "test/hardening/hooks.test.ts"];
      execFileSync("npx", ["vitest", "run", ...files, "--reporter=json", `--outputFile=${output}`], { stdio: "inherit" });
    } catch {
      // Failing tests exit non-zero; the report still has them.
    }
    return (JSON.parse(readFileSync(output, "utf8")) as { testResults: FileResult[] }).testResults;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function render(results: FileResult[]): string {
  const rows = new Map<string, Map<string, { passed: number; total: number }>>();
  for (const file of results) {
    for (const result of file.assertionResults) {
      const mount = mountOf(result);
      if (mount === undefined) continue;
      const group = groupOf(basename(file.name), result.title);
      const row = rows.get(group) ?? new Map<string, { passed: number; total: number }>();
      rows.set(group, row);
      const cell = row.get(mount) ?? { passed: 0, total: 0 };
      row.set(mount, cell);
      cell.total++;
      if (result.status === "passed") cell.passed++;
    }
  }
  const require = createRequire(import.meta.url);
  const wsVersion = (require("ws/package.json") as { version: string }).version;
  const lines = [
    `Generated by \`npx tsx test/conformance/report.ts\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ws ${wsVersion}.`,
    "",
    `| Case group | ${MOUNTS.join(" | ")} |`,
    `| --- | ${MOUNTS.map(() => "---").join(" | ")} |`,
  ];
  for (const [group, row] of [...rows].sort(([a], [b]) => rank(a) - rank(b))) {
    const cells = MOUNTS.map((mount) => {
      const cell = row.get(mount);
      if (cell === undefined) return "n/a";
      return cell.passed === cell.total ? `pass ${cell.passed}/${cell.total}` : `**FAIL** ${cell.total - cell.passed}/${cell.total}`;
    });
    lines.push(`| ${group} | ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

const table = render(run());
const doc = readFileSync(DOC, "utf8");
const start = doc.indexOf(START);
const end = doc.indexOf(END);
if (start < 0 || end < start) throw new Error(`docs/conformance.md needs the ${START} and ${END} markers`);
writeFileSync(DOC, `${doc.slice(0, start + START.length)}\n${table}\n${doc.slice(end)}`);
console.log(table);
