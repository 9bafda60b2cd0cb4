/** Runs one (target, scenario) pair: server and load generator as separate, pinned, bounded processes. */
import type { LoadResult, LoadSpec } from "../load/spec.js";
import type { ServerStats } from "../servers/contract.js";
import { Child, type Placement } from "./child.js";
import { WINDOWS, type Profile, type Scenario } from "./scenarios.js";
import type { Target } from "./targets.js";
import { SERVER_ENV } from "./build.js";

const READY_TIMEOUT_MS = 20_000;
const STATS_TIMEOUT_MS = 10_000;

/** Everything recorded about one run of one pair. */
export interface RunRecord {
  target: string;
  scenario: Scenario["id"];
  run: number;
  /** Primary metric (see Scenario.metric); absent when the run failed. */
  value?: number;
  error?: string;
  load?: LoadResult;
  /** Share of one core used during the measuring window. */
  serverCpu?: number;
  loadCpu?: number;
  /** Share of the window the server's main thread was runnable but not running: other work on its core. */
  serverWait?: number;
  /** Server CPU time per operation (message, delivery, handshake) in microseconds: robust to contention. */
  serverMicrosPerOp?: number;
  /** The part of {@link serverMicrosPerOp} on the server's main thread; the rest is V8's helper threads (mostly GC). */
  serverMainMicrosPerOp?: number;
  /** Server minor page faults per operation (memory the allocator had given back to the kernel and touches again). */
  serverFaultsPerOp?: number;
  /** Load generator CPU time per operation in microseconds. */
  loadMicrosPerOp?: number;
  memory?: {
    connections: number;
    /** (RSS with all connected - RSS before) / connections: the measure. */
    rssPerConnection: number;
    heapPerConnection: number;
    /** (RSS with all - RSS with half) / the second half: the same without one-off allocations. */
    marginalRssPerConnection: number;
    marginalHeapPerConnection: number;
    baselineRss: number;
    rss: number;
  };
  wallMs: number;
}

function cpuShare(before: number | null, after: number | null, ms: number): number | undefined {
  return before === null || after === null || ms <= 0 ? undefined : (after - before) / (ms / 1000);
}

/** Marks a promise as handled (its rejection is seen where it is awaited, if it is). */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function stats(server: Child): Promise<ServerStats> {
  server.send("stats");
  return JSON.parse(await server.waitFor("STATS", STATS_TIMEOUT_MS)) as ServerStats;
}

/** Value of the scenario's primary metric from the load result. */
function primaryValue(scenario: Scenario, load: LoadResult): number | undefined {
  return scenario.id === "idle-memory" ? undefined : load.rate;
}

/**
 * Runs one pair and always kills both processes. Never throws: failures are recorded in `error`.
 */
export async function runPair(options: {
  root: string;
  target: Target;
  scenario: Scenario;
  profile: Profile;
  placement: Placement;
  run: number;
  /** Merged into the scenario's load parameters (experiments). */
  paramsOverride?: Record<string, unknown>;
}): Promise<RunRecord> {
  const { root, target, scenario, profile, placement, run, paramsOverride } = options;
  const started = performance.now();
  const record: RunRecord = { target: target.id, scenario: scenario.id, run, wallMs: 0 };
  const windows = WINDOWS[profile];
  const children: Child[] = [];
  const timeoutMs = windows.warmupMs + windows.durationMs + 60_000;
  let guard: NodeJS.Timeout | undefined;
  let serverMainSeconds: number | undefined;
  let serverFaults: number | undefined;
  try {
    const work = (async (): Promise<void> => {
      const server = startServer(root, target, scenario, placement);
      children.push(server);
      const port = Number(await server.waitFor("READY", READY_TIMEOUT_MS));
      const baseline = scenario.id === "idle-memory" ? await stats(server) : undefined;
      const spec: LoadSpec = {
        scenario: scenario.id,
        protocol: target.protocol,
        port,
        warmupMs: windows.warmupMs,
        durationMs: windows.durationMs,
        params: { ...scenario.params(profile), ...paramsOverride } as LoadSpec["params"],
        timeoutMs,
      };
      const load = startLoad(root, target, spec, placement);
      children.push(load);
      // Every line is awaited from the start so none is missed; a probe failure skips straight to RESULT.
      const result = quiet(load.waitFor("RESULT", timeoutMs));
      const resultFirst = result.then((json) => ({ json }));
      if (baseline) {
        const first = await Promise.race([quiet(load.waitFor("HOLDING", timeoutMs)), resultFirst]);
        if (typeof first === "string") {
          // Two points: the marginal cost of the second half excludes one-off allocations (code, heap growth).
          const half = Number(first);
          await sleep(windows.settleMs);
          const atHalf = await stats(server);
          load.send("more");
          const all = Number(await load.waitFor("HOLDING", timeoutMs));
          await sleep(windows.settleMs);
          const atAll = await stats(server);
          load.send("release");
          if (all > 0 && all > half) {
            record.memory = {
              connections: all,
              rssPerConnection: (atAll.rss - baseline.rss) / all,
              heapPerConnection: (atAll.heapUsed - baseline.heapUsed) / all,
              marginalRssPerConnection: (atAll.rss - atHalf.rss) / (all - half),
              marginalHeapPerConnection: (atAll.heapUsed - atHalf.heapUsed) / (all - half),
              baselineRss: baseline.rss,
              rss: atAll.rss,
            };
            record.value = record.memory.rssPerConnection;
          }
        }
      } else {
        const first = await Promise.race([quiet(load.waitFor("MEASURE_START", timeoutMs)), resultFirst]);
        if (typeof first === "string") {
          const t0 = performance.now();
          const server0 = server.cpuSeconds();
          const load0 = load.cpuSeconds();
          const wait0 = server.runQueueSeconds();
          const main0 = server.mainThreadCpuSeconds();
          const faults0 = server.minorFaults();
          await load.waitFor("MEASURE_END", timeoutMs);
          const ms = performance.now() - t0;
          const main1 = server.mainThreadCpuSeconds();
          const faults1 = server.minorFaults();
          if (main0 !== null && main1 !== null) serverMainSeconds = main1 - main0;
          if (faults0 !== null && faults1 !== null) serverFaults = faults1 - faults0;
          const serverCpu = cpuShare(server0, server.cpuSeconds(), ms);
          const loadCpu = cpuShare(load0, load.cpuSeconds(), ms);
          if (serverCpu !== undefined) record.serverCpu = serverCpu;
          if (loadCpu !== undefined) record.loadCpu = loadCpu;
          const serverWait = cpuShare(wait0, server.runQueueSeconds(), ms);
          if (serverWait !== undefined) record.serverWait = serverWait;
        }
      }
      record.load = JSON.parse(await result) as LoadResult;
      if (record.load.error) record.error = record.load.error;
      const value = primaryValue(scenario, record.load);
      if (value !== undefined && !record.error) record.value = value;
      const { messages, windowMs } = record.load;
      if (record.serverCpu !== undefined && messages && windowMs) record.serverMicrosPerOp = (record.serverCpu * windowMs * 1000) / messages;
      if (serverMainSeconds !== undefined && messages) record.serverMainMicrosPerOp = (serverMainSeconds * 1e6) / messages;
      if (serverFaults !== undefined && messages) record.serverFaultsPerOp = serverFaults / messages;
      if (record.loadCpu !== undefined && messages && windowMs) record.loadMicrosPerOp = (record.loadCpu * windowMs * 1000) / messages;
      if (record.error) delete record.value;
    })();
    const deadline = new Promise<never>((_, reject) => {
      guard = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs + 5000);
    });
    await Promise.race([quiet(work), deadline]);
  } catch (error) {
    record.error = (error as Error).message;
    delete record.value;
  } finally {
    clearTimeout(guard);
    await Promise.all(children.map((child) => child.kill()));
    record.wallMs = performance.now() - started;
  }
  return record;
}

/** A target's server for a scenario, pinned to the server's core. */
export function startServer(root: string, target: Target, scenario: Scenario, placement: Placement): Child {
  return Child.start({
    label: `${target.id} server`,
    argv: [process.execPath, "--import", "tsx", "--expose-gc", ...(scenario.serverFlags ?? []), target.server],
    cwd: root,
    env: { ...scenario.serverEnv, ...SERVER_ENV },
    ...(placement.serverCore === undefined ? {} : { core: placement.serverCore }),
  });
}

/** The load generator for `spec`, pinned to the load generator's core. */
export function startLoad(root: string, target: Target, spec: LoadSpec, placement: Placement): Child {
  return Child.start({
    label: `${target.id} load`,
    argv: [process.execPath, "--import", "tsx", "bench/load/main.ts", JSON.stringify(spec)],
    cwd: root,
    ...(placement.loadCore === undefined ? {} : { core: placement.loadCore }),
  });
}
