/** Scenario definitions: what each measures, its load parameters, and its settings per profile. */
import type { ScenarioId, ScenarioParams } from "../load/spec.js";

/** Run length profile: `full` for published results, `quick` to check the harness works. */
export type Profile = "full" | "quick";

export interface Scenario {
  id: ScenarioId;
  title: string;
  /** Primary metric: label, unit, and which way is better. */
  metric: { name: string; unit: string; better: "higher" | "lower" };
  /** Server environment (BENCH_COMPRESSION). */
  serverEnv: Record<string, string>;
  /** Extra Node/V8 flags for every server of the scenario. */
  serverFlags?: readonly string[];
  params(profile: Profile): ScenarioParams;
  /** One-line method description for RESULTS.md. */
  method(profile: Profile): string;
}

/** Warm-up and measuring window per profile. */
export const WINDOWS: Record<Profile, { warmupMs: number; durationMs: number; runs: number; settleMs: number }> = {
  full: { warmupMs: 750, durationMs: 2500, runs: 3, settleMs: 1000 },
  quick: { warmupMs: 200, durationMs: 500, runs: 1, settleMs: 200 },
};

const idleConnections = (profile: Profile): number => (profile === "full" ? 10_000 : 4_000);

/**
 * glibc's heap trimming, off for the 64 KiB echo. Node allocates every 64 KiB read and message buffer with
 * malloc and frees it when V8 collects the Buffer, in batches; with the default thresholds glibc then often
 * hands the top of the heap back to the kernel, and the next buffers fault their pages in again. Whether a
 * server process falls into that pattern is decided by its allocation history, not by the library it runs:
 * measured on the benchmark machine, raw ws alone went from 0.0 to 8 page faults and from ~50 to ~270 µs of
 * server CPU per message between runs, which dominated the comparison. With trimming off every target runs
 * at 0.0-0.3 faults per message (the report's page faults/op column shows it).
 */
const NO_HEAP_TRIM = { MALLOC_TRIM_THRESHOLD_: String(1 << 30) };

/**
 * V8's old generation starts with a 64 MB limit for the 64 KiB echo. About 20 MB of Buffer memory is in
 * flight there; once a process has run one mark-compact, V8 sets its next limit at the live heap plus
 * 16 MB, and a process whose heap is a few MB larger (a framework loaded, whether or not it serves the
 * WebSocket) can stay above that limit after every collection: it then collects its old generation every
 * 30 ms or so, 20-80 times per window, at 40-90 µs more per message. Which process falls into that is
 * chance (the same server ran 0 in one window and 80 in the next). In checks on the benchmark machine, raw ws
 * with Express loaded ran 37-82 mark-compacts per 2.5 s window in 3 of 3 runs without this flag and 0 in the
 * 3 runs interleaved with them that had it; with it, the Express and Koa servers ran 0 as well.
 */
const OLD_SPACE_START = ["--initial-old-space-size=64"];

export const SCENARIOS: readonly Scenario[] = [
  {
    id: "echo",
    title: "Echo, 32-byte text",
    metric: { name: "messages/s", unit: "msg/s", better: "higher" },
    serverEnv: {},
    params: () => ({ connections: 64, inFlight: 8, payloadBytes: 32, binary: false }),
    method: () => "64 connections x 8 messages in flight; each echo is answered with the next message. Latency from send to echo.",
  },
  {
    id: "echo-binary",
    title: "Echo, 64 KiB binary",
    metric: { name: "MB/s echoed", unit: "MB/s", better: "higher" },
    serverEnv: NO_HEAP_TRIM,
    serverFlags: OLD_SPACE_START,
    params: () => ({ connections: 16, inFlight: 2, payloadBytes: 65_536, binary: true }),
    method: () =>
      "16 connections x 2 messages of 64 KiB in flight; MB/s of payload echoed (1 MB = 10^6 bytes). Servers run with glibc's heap trimming off " +
      "(MALLOC_TRIM_THRESHOLD_=1 GiB) and --initial-old-space-size=64: without them a process re-faults its buffers' pages, or collects its " +
      "old generation every few tens of milliseconds, by chance, whatever library it runs (see bench/README.md).",
  },
  {
    id: "broadcast",
    title: "Broadcast 64 B to 1,000",
    metric: { name: "deliveries/s", unit: "deliveries/s", better: "higher" },
    serverEnv: {},
    params: () => ({ connections: 1000, payloadBytes: 64, deflate: false, window: 16 }),
    method: () =>
      "1,000 connections in one room; one of them sends, the server sends each message to all 1,000. At most 16 broadcasts' deliveries outstanding (flow control by the receivers).",
  },
  {
    id: "broadcast-deflate",
    title: "Broadcast 256 B compressed to 1,000",
    metric: { name: "deliveries/s", unit: "deliveries/s", better: "higher" },
    serverEnv: { BENCH_COMPRESSION: "1" },
    params: () => ({ connections: 1000, payloadBytes: 256, deflate: true, window: 16 }),
    method: () =>
      "As the broadcast, with permessage-deflate negotiated on every connection and a compressible 256-byte JSON-like text (threshold 128 B where the library has one).",
  },
  {
    id: "handshake",
    title: "Handshakes with auth middleware",
    metric: { name: "handshakes/s", unit: "handshakes/s", better: "higher" },
    serverEnv: {},
    params: () => ({ concurrency: 32, sources: 16 }),
    method: () =>
      "32 concurrent loops of connect (Authorization header checked by one middleware before the upgrade), accepted, closing handshake. Source addresses spread over 127.0.0.1-16.",
  },
  {
    id: "idle-memory",
    title: "Memory per idle connection",
    metric: { name: "bytes per connection", unit: "B/conn", better: "lower" },
    serverEnv: {},
    params: (profile) => ({ connections: idleConnections(profile), concurrency: 256, sources: 16, maxHoldMs: 30_000 }),
    method: (profile) =>
      `${idleConnections(profile).toLocaleString("en-US")} idle connections on /echo, heartbeat on; server RSS with all connected minus RSS before, each measured after full GCs repeated until RSS settles (V8 returns freed pages over several collections), divided by the connections. ` +
      "The marginal columns measure the second half alone (RSS with all minus RSS with half, over half the connections), which leaves out one-off allocations such as compiled code and heap growth.",
  },
];

/** Scenario by id. */
export function scenario(id: ScenarioId): Scenario {
  const found = SCENARIOS.find((candidate) => candidate.id === id);
  if (!found) throw new TypeError(`unknown scenario "${id}"`);
  return found;
}
