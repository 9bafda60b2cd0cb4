/**
 * Preloaded into a benchmark server by `heap-diff.ts` (`--import ./bench/memory/agent.ts`): a second
 * reader of the server's stdin control channel, next to the contract's `stats`.
 *
 * - `mem [minWait]`   answers `MEM <json>`: process.memoryUsage() after two full GCs (what the benchmark's
 *                     `stats` reports), and `settled`: the same once RSS stops falling from one round of
 *                     GCs to the next, and at least minWait ms have passed. V8 gives freed pages back to the system over several GCs, so RSS
 *                     right after the first ones still holds recent garbage's pages.
 * - `snapshot <path>` answers `SNAPSHOT <path>` once a heap snapshot (taken after two full GCs) is written.
 * - `maps`            answers `MAPS <json>`: the resident bytes of the process by kind of mapping
 *                     (/proc/self/smaps, Linux only), after two full GCs.
 *
 * The contract's own reader ignores these lines; it still exits the process when stdin closes.
 */
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { writeHeapSnapshot } from "node:v8";

/** What `mem` reports, in bytes. */
export interface MemorySample {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("heap-diff: the server must run with --expose-gc");
  gc();
  gc();
}

/** {@link MemorySample} right after two full GCs, and once RSS has settled. */
export interface SettledSample extends MemorySample {
  settled: MemorySample;
  /** Resident bytes by kind of mapping (Linux): right after the two GCs, and once settled. */
  mappings?: MappingSample;
  settledMappings?: MappingSample;
  /** Rounds of GCs (500 ms apart) it took to settle. */
  rounds: number;
}

const MAX_ROUNDS = 60;
/** RSS moving less than this from one round to the next, three times in a row, is settled. */
const SETTLED_BYTES = 256 * 1024;

/**
 * Samples after two GCs, then every 500 ms until RSS is steady and at least `minWait` ms have passed: V8's
 * memory reducer shrinks an idle heap (heapTotal) about 8 s after its last full GC.
 */
async function settle(minWait: number): Promise<SettledSample> {
  const first = sample();
  const firstMappings = readMappings();
  const started = Date.now();
  let previous = first;
  let quiet = 0;
  let rounds = 0;
  while (rounds < MAX_ROUNDS && (quiet < 3 || Date.now() - started < minWait)) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const next = sample();
    rounds++;
    quiet = Math.abs(next.rss - previous.rss) < SETTLED_BYTES && next.heapTotal === previous.heapTotal ? quiet + 1 : 0;
    previous = next;
  }
  return { ...first, settled: previous, rounds, mappings: firstMappings, settledMappings: readMappings() };
}

function sample(): MemorySample {
  collect();
  const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapTotal, heapUsed, external, arrayBuffers };
}

/**
 * Resident bytes by kind of mapping: `brk heap` (glibc's main arena), anonymous mappings by size
 * (`anon 64M+` is typically a glibc thread arena, `anon 256K` V8 heap pages, and so on), files, stacks.
 */
export type MappingSample = Record<string, number>;

function readMappings(): MappingSample | undefined {
  if (process.platform !== "linux") return undefined;
  const out: MappingSample = {};
  let kind = "";
  for (const line of readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header !== null) {
      const size = (parseInt(header[2]!, 16) - parseInt(header[1]!, 16)) / 1024;
      const name = header[3]!;
      if (name === "[heap]") kind = "brk heap";
      else if (name === "[stack]") kind = "stack";
      else if (name.startsWith("[")) kind = name;
      else if (name !== "") kind = "files";
      else kind = size >= 65536 ? "anon 64M+" : size >= 1024 ? `anon ${Math.floor(size / 1024)}M` : `anon ${Math.floor(size)}K`;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss !== null) out[kind] = (out[kind] ?? 0) + Number(rss[1]) * 1024;
  }
  return out;
}

createInterface({ input: process.stdin }).on("line", (line) => {
  const [command, ...rest] = line.trim().split(" ");
  try {
    if (command === "mem") {
      void settle(Number(rest[0] ?? 0)).then((memory) => process.stdout.write(`MEM ${JSON.stringify(memory)}\n`));
    } else if (command === "maps") {
      collect();
      process.stdout.write(`MAPS ${JSON.stringify(readMappings() ?? {})}\n`);
    } else if (command === "snapshot") {
      const path = rest.join(" ");
      collect();
      writeHeapSnapshot(path);
      process.stdout.write(`SNAPSHOT ${path}\n`);
    }
  } catch (error) {
    process.stdout.write(`AGENT_ERROR ${JSON.stringify(String(error))}\n`);
  }
});
