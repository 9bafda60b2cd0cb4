/**
 * What one idle WebSocket connection holds in a benchmark server, object by object.
 *
 *   node --expose-gc --import tsx bench/memory/heap-diff.ts <target> [count] [options]
 *   npm run bench:memory -- <target> [count] [options]
 *   node --import tsx bench/memory/heap-diff.ts --compare <a.json> <b.json>
 *
 * <target> is a server of bench/servers (ws, ws-express-loaded, express-ws, wsmount-node, wsmount-express,
 * wsmount-fastify, wsmount-koa, ...); count defaults to 10000.
 *
 * Two server processes, each started with --expose-gc and bench/memory/agent.ts preloaded, the connections
 * held by a separate client process (bench/memory/client.ts: the `ws` client, no permessage-deflate) so that
 * neither side runs into the open-file limit:
 *
 * 1. measured: warm-up connections (kept open), memoryUsage after GC, `count` more idle connections on
 *    /echo, memoryUsage after GC, then a heap snapshot. Memory is sampled right after two full GCs (what
 *    the benchmark's `stats` reports) and again once RSS has settled over more rounds of GCs: V8 returns
 *    freed pages to the system over several GCs, so the first figure still counts the pages of recent
 *    garbage, such as what a framework's router allocates for each upgrade request;
 * 2. baseline: the same warm-up connections, then a heap snapshot.
 *
 * The baseline snapshot runs in its own process because a snapshot leaves allocator memory behind that
 * would count as the connections' RSS. The report: memory per connection (RSS, JS heap, external, and RSS
 * minus heapTotal and external: memory outside the JS heap), resident memory by kind of mapping (Linux: glibc's
 * brk heap apart from V8's anonymous page mappings), the snapshot diff grouped by
 * constructor (objects) or type (closures, arrays, strings, code), count and self size per connection, and
 * one retaining path from the root for a sample instance of each of the biggest groups, with what that
 * sample alone keeps alive (its retained set).
 *
 * Options: --warmup <n> (default 100), --sources <n> loopback source addresses (default 4),
 * --concurrency <n> handshakes in flight (default 200), --settle <ms> wait after the last open (default 2000),
 * --top <n> rows (default 25), --paths <n> groups given a retaining path (default 12),
 * --retainers <Name,Name> more groups to give a path, --path </echo>, --keep (keep the snapshots),
 * --no-heap (memory only), --out <dir> (default bench/out/memory), --node-flags "<flags>" (more flags for the
 * server's node, e.g. "--max-semi-space-size=1"), --tag <name> (added to the result's file name),
 * --settled-wait <ms> (least time GCs go on for the settled sample, default 10000: V8's memory reducer
 * shrinks an idle heap about 8 s after the last full GC).
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { MappingSample, MemorySample, SettledSample } from "./agent.js";
import { census, detailOf, groupOf, HeapSnapshot, Retainers, type Census, type Tally } from "./snapshot.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");

interface Settings {
  target: string;
  count: number;
  warmup: number;
  sources: number;
  concurrency: number;
  settle: number;
  top: number;
  paths: number;
  retainers: string[];
  path: string;
  keep: boolean;
  heap: boolean;
  out: string;
  nodeFlags: string[];
  tag: string;
  settledWait: number;
}

/** Per-connection figures of one group. */
interface Row {
  group: string;
  count: number;
  bytes: number;
}

interface PerConnection {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  outsideHeap: number;
}

/** What a run saves (bench/out/memory/<target>-<count>.json) and `--compare` reads. */
export interface Result {
  target: string;
  count: number;
  warmup: number;
  node: string;
  nodeFlags: string[];
  before: SettledSample;
  after: SettledSample;
  /** Bytes per connection right after two full GCs (as the benchmark's `stats`). */
  perConnection: PerConnection;
  /** Bytes per connection once RSS settled (more GCs, until V8 has given freed pages back). */
  perConnectionSettled: PerConnection;
  heap?: {
    total: { count: number; bytes: number };
    groups: Row[];
    details: Row[];
    paths: Array<{ group: string; sample: string; path: string[]; direct: string[]; retained: ReturnType<Retainers["retainedBy"]> }>;
  };
}

// ---------------------------------------------------------------- processes

class Proc {
  readonly child: ChildProcessWithoutNullStreams;
  readonly #lines: string[] = [];
  readonly #waiters: Array<{ prefix: string; resolve: (rest: string) => void; reject: (error: Error) => void }> = [];
  #stderr = "";
  #exited: string | null = null;

  constructor(
    readonly label: string,
    argv: string[],
  ) {
    this.child = spawn(argv[0]!, argv.slice(1), { cwd: root, stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, BENCH_COMPRESSION: "0" } });
    createInterface({ input: this.child.stdout }).on("line", (line) => this.#onLine(line));
    this.child.stderr.on("data", (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-4000);
    });
    this.child.stdin.on("error", () => {});
    this.child.on("exit", (code, signal) => {
      this.#exited = signal ? `killed by ${signal}` : `exited with code ${code}`;
      for (const waiter of this.#waiters.splice(0)) waiter.reject(new Error(`${label} ${this.#exited} before "${waiter.prefix}"\n${this.#stderr}`));
    });
  }

  #onLine(line: string): void {
    const index = this.#waiters.findIndex((waiter) => line.startsWith(waiter.prefix));
    if (index >= 0) {
      const [waiter] = this.#waiters.splice(index, 1);
      waiter!.resolve(line.slice(waiter!.prefix.length).trim());
    } else if (line.startsWith("AGENT_ERROR")) {
      for (const waiter of this.#waiters.splice(0)) waiter.reject(new Error(`${this.label}: ${line}`));
    } else this.#lines.push(line);
  }

  /** Resolves with the rest of the next line starting with `prefix`. */
  expect(prefix: string, timeoutMs: number): Promise<string> {
    if (this.#exited !== null) return Promise.reject(new Error(`${this.label} ${this.#exited}\n${this.#stderr}`));
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.label}: no "${prefix}" within ${timeoutMs} ms\n${this.#stderr}`)), timeoutMs);
      this.#waiters.push({
        prefix,
        resolve: (rest) => {
          clearTimeout(timer);
          resolvePromise(rest);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }

  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  async stop(): Promise<void> {
    if (this.#exited !== null) return;
    const exited = new Promise<void>((resolvePromise) => this.child.once("exit", () => resolvePromise()));
    this.child.kill("SIGKILL");
    await exited;
  }
}

function startServer(settings: Settings): Proc {
  const server = join(root, "bench/servers", `${settings.target}.ts`);
  if (!existsSync(server)) throw new Error(`no server bench/servers/${settings.target}.ts`);
  return new Proc(`server ${settings.target}`, [
    process.execPath,
    "--expose-gc",
    "--import",
    "tsx",
    "--conditions=wsmount-source",
    ...settings.nodeFlags,
    "--import",
    join(here, "agent.ts"),
    server,
  ]);
}

async function connect(settings: Settings, port: number, count: number): Promise<Proc> {
  const spec = { url: `ws://127.0.0.1:${port}${settings.path}`, count, concurrency: settings.concurrency, sources: settings.sources };
  const client = new Proc(`client (${count})`, [process.execPath, "--import", "tsx", join(here, "client.ts"), JSON.stringify(spec)]);
  const [opened, failed] = (await client.expect("OPEN", 60_000 + count * 20)).split(" ").map(Number);
  if (failed !== 0) throw new Error(`${failed} of ${count} connections failed (${opened} opened)`);
  return client;
}

async function memory(server: Proc, minWait: number): Promise<SettledSample> {
  server.send(`mem ${minWait}`);
  return JSON.parse(await server.expect("MEM", 60_000)) as SettledSample;
}

async function snapshot(server: Proc, path: string): Promise<HeapSnapshot> {
  server.send(`snapshot ${path}`);
  await server.expect("SNAPSHOT", 600_000);
  return new HeapSnapshot(path);
}

async function stillOpen(client: Proc, expected: number): Promise<void> {
  client.send("status");
  const [open] = (await client.expect("STATUS", 10_000)).split(" ").map(Number);
  if (open !== expected) throw new Error(`${client.label}: ${open} of ${expected} connections still open`);
}

const sleep = (ms: number) => new Promise((resolvePromise) => setTimeout(resolvePromise, ms));

// ---------------------------------------------------------------- the run

async function run(settings: Settings): Promise<Result> {
  mkdirSync(settings.out, { recursive: true });
  const stem = join(settings.out, `${settings.target}-${settings.count}${settings.tag === "" ? "" : `-${settings.tag}`}`);
  const procs: Proc[] = [];
  const stopAll = () => Promise.all(procs.splice(0).map((proc) => proc.stop()));
  let before: SettledSample;
  let after: SettledSample;
  let measured: HeapSnapshot | null = null;
  try {
    // 1. measured process
    const { server, port } = await startWarmed(settings, procs);
    before = await memory(server, settings.settledWait);
    const started = performance.now();
    const holder = await connect(settings, port, settings.count);
    procs.push(holder);
    log(`${settings.count} connections open in ${Math.round(performance.now() - started)} ms`);
    await sleep(settings.settle);
    after = await memory(server, settings.settledWait);
    if (settings.heap) {
      measured = await snapshot(server, `${stem}-after.heapsnapshot`);
      log(`snapshot after: ${measured.nodeCount} nodes`);
    }
    await stillOpen(holder, settings.count);
    await stopAll();
  } finally {
    await stopAll();
  }

  const n = settings.count;
  const result: Result = {
    target: settings.target,
    count: n,
    warmup: settings.warmup,
    node: process.version,
    nodeFlags: settings.nodeFlags,
    before,
    after,
    perConnection: perConnection(before, after, n),
    perConnectionSettled: perConnection(before.settled, after.settled, n),
  };

  if (measured !== null) {
    // 2. baseline process
    let baseline: HeapSnapshot;
    try {
      const { server } = await startWarmed(settings, procs);
      baseline = await snapshot(server, `${stem}-before.heapsnapshot`);
    } finally {
      await stopAll();
    }
    result.heap = analyse(settings, census(baseline), measured);
    if (!settings.keep) {
      rmSync(`${stem}-before.heapsnapshot`, { force: true });
      rmSync(`${stem}-after.heapsnapshot`, { force: true });
    }
  }
  writeFileSync(`${stem}.json`, `${JSON.stringify(result, null, 1)}\n`);
  log(`saved ${stem}.json`);
  return result;
}

function perConnection(before: MemorySample, after: MemorySample, n: number): PerConnection {
  return {
    rss: (after.rss - before.rss) / n,
    heapTotal: (after.heapTotal - before.heapTotal) / n,
    heapUsed: (after.heapUsed - before.heapUsed) / n,
    external: (after.external - before.external) / n,
    arrayBuffers: (after.arrayBuffers - before.arrayBuffers) / n,
    outsideHeap: (outside(after) - outside(before)) / n,
  };
}

function outside(sample: MemorySample): number {
  return sample.rss - (sample.heapTotal + sample.external);
}

function diff(before: Map<string, Tally>, after: Map<string, Tally>, n: number): Row[] {
  const rows: Row[] = [];
  for (const key of new Set([...before.keys(), ...after.keys()])) {
    const a = after.get(key) ?? { count: 0, size: 0 };
    const b = before.get(key) ?? { count: 0, size: 0 };
    if (a.count === b.count && a.size === b.size) continue;
    rows.push({ group: key, count: (a.count - b.count) / n, bytes: (a.size - b.size) / n });
  }
  return rows.sort((x, y) => y.bytes - x.bytes);
}

function analyse(settings: Settings, before: Census, measured: HeapSnapshot): NonNullable<Result["heap"]> {
  const after = census(measured);
  const n = settings.count;
  const groups = diff(before.groups, after.groups, n);
  const details = diff(before.details, after.details, n);
  // A retaining path for a sample of each of the biggest per-connection groups.
  const wanted = new Set<string>(settings.retainers);
  for (const row of groups) {
    if (wanted.size >= settings.paths + settings.retainers.length) break;
    if (row.count >= 0.5 && !row.group.startsWith("(")) wanted.add(row.group);
  }
  for (const row of details.filter((r) => r.group.endsWith("()") && r.count >= 0.5).slice(0, 6)) wanted.add(row.group);
  const samples = new Map<string, number[]>();
  for (let node = 0; node < measured.nodeCount; node++) {
    for (const key of [groupOf(measured, node), detailOf(measured, node)]) {
      if (key !== null && wanted.has(key)) {
        let list = samples.get(key);
        if (list === undefined) samples.set(key, (list = []));
        list.push(node);
      }
    }
  }
  const retainers = new Retainers(measured);
  const paths: NonNullable<Result["heap"]>["paths"] = [];
  for (const group of wanted) {
    const list = samples.get(group);
    if (list === undefined || list.length === 0) continue;
    // Most instances belong to the connections: one from the middle of the heap is one of theirs.
    const sample = list[Math.floor(list.length / 2)]!;
    paths.push({
      group,
      sample: measured.describe(sample),
      path: retainers.pathTo(sample),
      direct: retainers.directRetainers(sample),
      retained: retainers.retainedBy(sample),
    });
  }
  return {
    total: { count: (after.total.count - before.total.count) / n, bytes: (after.total.size - before.total.size) / n },
    groups,
    details,
    paths,
  };
}

// ---------------------------------------------------------------- output

function log(message: string): void {
  process.stderr.write(`heap-diff: ${message}\n`);
}

const kib = (bytes: number) => (bytes / 1024).toFixed(2);
const mib = (bytes: number) => (bytes / 1048576).toFixed(1);

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  ")).join("\n");
}

function print(result: Result, settings: Pick<Settings, "top">): void {
  const p = result.perConnection;
  const q = result.perConnectionSettled;
  const lines: string[] = [];
  const flags = result.nodeFlags.length > 0 ? ` ${result.nodeFlags.join(" ")}` : "";
  lines.push(`# ${result.target}: ${result.count} idle connections on /echo (after ${result.warmup} warm-up), Node ${result.node}${flags}`);
  lines.push("");
  lines.push(
    table([
      ["per connection (KiB)", "after 2 GCs", `settled (${result.before.rounds}/${result.after.rounds} rounds)`],
      ["RSS", kib(p.rss), kib(q.rss)],
      ["JS heap (heapUsed)", kib(p.heapUsed), kib(q.heapUsed)],
      ["JS heap (heapTotal)", kib(p.heapTotal), kib(q.heapTotal)],
      ["external", kib(p.external), kib(q.external)],
      ["  of which arrayBuffers", kib(p.arrayBuffers), kib(q.arrayBuffers)],
      ["outside the heap (RSS - heapTotal - external)", kib(p.outsideHeap), kib(q.outsideHeap)],
    ]),
  );
  lines.push("");
  const processRow = (label: string, m: MemorySample) => [label, mib(m.rss), mib(m.heapTotal), mib(m.heapUsed), mib(m.external), mib(m.arrayBuffers)];
  lines.push(
    table([
      ["process (MiB)", "rss", "heapTotal", "heapUsed", "external", "arrayBuffers"],
      processRow("before, 2 GCs", result.before),
      processRow("before, settled", result.before.settled),
      processRow("after, 2 GCs", result.after),
      processRow("after, settled", result.after.settled),
    ]),
  );
  const { before: b, after: a } = result;
  if (b.mappings !== undefined && a.mappings !== undefined && b.settledMappings !== undefined && a.settledMappings !== undefined) {
    const delta = (x: MappingSample, y: MappingSample, kind: string) => ((y[kind] ?? 0) - (x[kind] ?? 0)) / result.count;
    const kinds = [...new Set([...Object.keys(a.mappings), ...Object.keys(b.mappings), ...Object.keys(a.settledMappings), ...Object.keys(b.settledMappings)])]
      .map((kind) => ({ kind, early: delta(b.mappings!, a.mappings!, kind), settled: delta(b.settledMappings!, a.settledMappings!, kind) }))
      .filter((row) => Math.abs(row.early) >= 10 || Math.abs(row.settled) >= 10)
      .sort((x, y) => Math.abs(y.early) - Math.abs(x.early));
    lines.push("");
    lines.push(
      table([
        ["resident by mapping, KiB/conn", "after 2 GCs", "settled"],
        ...kinds.map((row) => [row.kind, kib(row.early), kib(row.settled)]),
      ]),
    );
    lines.push("(brk heap: glibc malloc's main arena; anon 256K and other anon sizes: mostly V8 heap pages, which merge into larger mappings)");
  }
  const heap = result.heap;
  if (heap !== undefined) {
    lines.push("");
    lines.push(`heap snapshot diff: ${heap.total.count.toFixed(1)} objects, ${heap.total.bytes.toFixed(0)} bytes (self size) per connection`);
    lines.push("");
    lines.push(table([["group", "count/conn", "bytes/conn"], ...heap.groups.slice(0, settings.top).map((row) => [row.group, row.count.toFixed(2), row.bytes.toFixed(0)])]));
    lines.push("");
    lines.push("closures by function, arrays and code by kind:");
    lines.push(table([["detail", "count/conn", "bytes/conn"], ...heap.details.slice(0, settings.top).map((row) => [row.group, row.count.toFixed(2), row.bytes.toFixed(0)])]));
    for (const entry of heap.paths) {
      lines.push("");
      lines.push(`retainers of ${entry.group}, sample ${entry.sample}:`);
      if (entry.path.length === 0) lines.push("  (unreachable from the root)");
      for (const step of entry.path) lines.push(`  ${step}`);
      lines.push("  direct retainers:");
      for (const step of entry.direct) lines.push(`    ${step}`);
      const { retained } = entry;
      const parts = retained.groups.slice(0, 12).map((group) => `${group.group} ${group.count > 1 ? `x${group.count} ` : ""}${group.size}`);
      lines.push(`  retained by the sample alone: ${retained.count} objects, ${retained.size} bytes: ${parts.join(", ")}${retained.groups.length > 12 ? ", ..." : ""}`);
    }
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

/** Side by side, group by group: what `b` holds per connection beyond `a`. */
function compare(a: Result, b: Result, top: number): void {
  const lines: string[] = [];
  lines.push(`# ${b.target} vs ${a.target} (${b.count} / ${a.count} connections), KiB per connection`);
  for (const [title, pa, pb] of [
    ["after 2 GCs", a.perConnection, b.perConnection],
    ["settled", a.perConnectionSettled, b.perConnectionSettled],
  ] as const) {
    lines.push("");
    lines.push(
      table([
        [title, a.target, b.target, "difference"],
        ...(["rss", "heapUsed", "heapTotal", "external", "outsideHeap"] as const).map((key) => [key, kib(pa[key]), kib(pb[key]), kib(pb[key] - pa[key])]),
      ]),
    );
  }
  if (a.heap !== undefined && b.heap !== undefined) {
    for (const [title, left, right] of [
      ["groups", a.heap.groups, b.heap.groups],
      ["details", a.heap.details, b.heap.details],
    ] as const) {
      const byGroup = new Map<string, { a?: Row; b?: Row }>();
      for (const row of left) byGroup.set(row.group, { a: row });
      for (const row of right) byGroup.set(row.group, { ...byGroup.get(row.group), b: row });
      const rows = [...byGroup.entries()]
        .map(([group, pair]) => ({ group, a: pair.a ?? { group, count: 0, bytes: 0 }, b: pair.b ?? { group, count: 0, bytes: 0 } }))
        .filter((row) => Math.abs(row.b.bytes - row.a.bytes) >= 1)
        .sort((x, y) => Math.abs(y.b.bytes - y.a.bytes) - Math.abs(x.b.bytes - x.a.bytes))
        .slice(0, top);
      lines.push("");
      lines.push(`${title}: ${b.target} minus ${a.target}, per connection`);
      lines.push(
        table([
          ["group", `${a.target} n`, "bytes", `${b.target} n`, "bytes", "Δ n", "Δ bytes"],
          ...rows.map((row) => [
            row.group,
            row.a.count.toFixed(2),
            row.a.bytes.toFixed(0),
            row.b.count.toFixed(2),
            row.b.bytes.toFixed(0),
            (row.b.count - row.a.count).toFixed(2),
            (row.b.bytes - row.a.bytes).toFixed(0),
          ]),
        ]),
      );
    }
    lines.push("");
    lines.push(`heap objects per connection: ${a.heap.total.count.toFixed(1)} (${a.heap.total.bytes.toFixed(0)} B) vs ${b.heap.total.count.toFixed(1)} (${b.heap.total.bytes.toFixed(0)} B)`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

// ---------------------------------------------------------------- command line

function parse(argv: string[]): Settings | { compare: [string, string]; top: number } {
  const positional: string[] = [];
  const settings: Settings = {
    target: "",
    count: 10_000,
    warmup: 100,
    sources: 4,
    concurrency: 200,
    settle: 2000,
    top: 25,
    paths: 12,
    retainers: [],
    path: "/echo",
    keep: false,
    heap: true,
    out: join(root, "bench/out/memory"),
    nodeFlags: [],
    tag: "",
    settledWait: 10_000,
  };
  let compareMode = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    const number = () => {
      const parsed = Number(value());
      if (!Number.isInteger(parsed) || parsed < 0) throw new Error(`${arg} needs a non-negative integer`);
      return parsed;
    };
    if (arg === "--compare") compareMode = true;
    else if (arg === "--warmup") settings.warmup = number();
    else if (arg === "--sources") settings.sources = Math.max(1, Math.min(254, number()));
    else if (arg === "--concurrency") settings.concurrency = Math.max(1, number());
    else if (arg === "--settle") settings.settle = number();
    else if (arg === "--top") settings.top = number();
    else if (arg === "--paths") settings.paths = number();
    else if (arg === "--retainers") settings.retainers = value().split(",").filter(Boolean);
    else if (arg === "--path") settings.path = value();
    else if (arg === "--out") settings.out = resolve(value());
    else if (arg === "--node-flags") settings.nodeFlags = value().split(" ").filter(Boolean);
    else if (arg === "--settled-wait") settings.settledWait = number();
    else if (arg === "--tag") settings.tag = value().replace(/[^\w.-]/g, "_");
    else if (arg === "--keep") settings.keep = true;
    else if (arg === "--no-heap") settings.heap = false;
    else if (arg.startsWith("--")) throw new Error(`unknown option ${arg}`);
    else positional.push(arg);
  }
  if (compareMode) {
    if (positional.length !== 2) throw new Error("--compare takes two result files");
    return { compare: [positional[0]!, positional[1]!], top: settings.top };
  }
  if (positional.length < 1 || positional.length > 2) throw new Error("usage: heap-diff.ts <target> [count] [options]");
  settings.target = positional[0]!;
  if (positional[1] !== undefined) {
    settings.count = Number(positional[1]);
    if (!Number.isInteger(settings.count) || settings.count < 1) throw new Error("count must be a positive integer");
  }
  return settings;
}

async function main(): Promise<void> {
  const parsed = parse(process.argv.slice(2));
  if ("compare" in parsed) {
    const [a, b] = parsed.compare.map((file) => JSON.parse(readFileSync(file, "utf8")) as Result);
    compare(a!, b!, parsed.top);
    return;
  }
  print(await run(parsed), parsed);
}

main().catch((error: unknown) => {
  process.stderr.write(`heap-diff: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

/** A server with the warm-up connections open and settled; every process started goes into `procs`. */
async function startWarmed(settings: Settings, procs: Proc[]): Promise<{ server: Proc; port: number }> {
  const server = startServer(settings);
  procs.push(server);
  const port = Number(await server.expect("READY", 60_000));
  if (settings.warmup > 0) procs.push(await connect(settings, port, settings.warmup));
  await sleep(settings.settle);
  return { server, port };
}
