/**
 * The behaviour every benchmark server implements, whatever library it is written with:
 *
 * - `/echo`  sends every message back to its sender, text as text and binary as binary.
 * - `/bcast` is a chat room: every message received is sent to every connection of `/bcast`
 *            (the sender included).
 * - `/auth`  runs one auth-like middleware before the upgrade: it checks
 *            `Authorization: Bearer <AUTH_TOKEN>` (socket.io: the `auth.token` of its handshake),
 *            refuses with 401 otherwise, records the user on the request, then accepts.
 * - Heartbeat on everywhere (each library's own mechanism or its documented recipe, 30 s).
 * - permessage-deflate only when `BENCH_COMPRESSION=1`, with a 128-byte threshold where the
 *   library has one (the defaults of 1024 would leave the 256-byte scenario uncompressed).
 *
 * Process protocol with the runner: listen on 127.0.0.1, port 0; print `READY <port>` on stdout;
 * answer each `stats` line on stdin with `STATS <json>` (after a full GC when `--expose-gc`).
 */
import { createInterface } from "node:readline";
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";

/** Routes of the contract. */
export type Route = "/echo" | "/bcast" | "/auth";

/** Token the load generator presents on `/auth`. */
export const AUTH_TOKEN = "bench-token";
/** Value of the Authorization header on `/auth`. */
export const AUTH_HEADER = `Bearer ${AUTH_TOKEN}`;
/** Ping interval of every heartbeat, in milliseconds. */
export const HEARTBEAT_INTERVAL = 30_000;
/** Messages shorter than this are sent uncompressed even with permessage-deflate on. */
export const COMPRESSION_THRESHOLD = 128;
/** Largest message a server accepts (64 KiB echo plus room). */
export const MAX_MESSAGE_SIZE = 1 << 20;

/** The user the auth middleware attaches to the request. */
export interface BenchUser {
  id: string;
}

/** Checks the Authorization header value; returns the user or null. */
export function userFromAuthorization(value: string | undefined): BenchUser | null {
  return value === AUTH_HEADER ? { id: "bench-user" } : null;
}

/** Settings the runner passes through the environment. */
export interface ServerSettings {
  /** permessage-deflate on (BENCH_COMPRESSION=1). Default off. */
  compression: boolean;
}

/** Reads {@link ServerSettings} from the environment. */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): ServerSettings {
  return { compression: env.BENCH_COMPRESSION === "1" };
}

/** Snapshot a server reports on `stats`. */
export interface ServerStats {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** process.cpuUsage() user + system, microseconds. */
  cpuMicros: number;
}

/** Rounds of full GCs at most, and the RSS change below which two rounds in a row count as settled. */
const SETTLE_ROUNDS = 12;
const SETTLED_BYTES = 256 * 1024;

/**
 * Collects garbage (when exposed) until RSS settles, then measures memory and CPU. V8 gives the pages
 * that garbage occupied back to the system over several collections: right after the first two, RSS
 * still holds some of them (measured: 5-10 KiB per connection right after a burst of 10,000
 * handshakes through Express, 3.6-4 KiB settled), which would make the idle-memory numbers depend
 * on how much garbage the handshakes left rather than on what a connection holds.
 */
export async function collectStats(): Promise<ServerStats> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    let last = process.memoryUsage.rss();
    let quiet = 0;
    for (let round = 0; round < SETTLE_ROUNDS && quiet < 2; round++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 50));
      const rss = process.memoryUsage.rss();
      quiet = Math.abs(rss - last) < SETTLED_BYTES ? quiet + 1 : 0;
      last = rss;
    }
  }
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  return {
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    external: memory.external,
    arrayBuffers: memory.arrayBuffers,
    cpuMicros: cpu.user + cpu.system,
  };
}

/** A CPU profile of this process between two commands (bench/profile/run.ts), through the inspector. */
const profiler = {
  session: null as Session | null,
  async start(): Promise<void> {
    const session = new Session();
    session.connect();
    this.session = session;
    await post(session, "Profiler.enable");
    await post(session, "Profiler.setSamplingInterval", { interval: 250 });
    await post(session, "Profiler.start");
  },
  async stop(path: string): Promise<string> {
    const session = this.session;
    if (session === null) throw new Error("no profile was started");
    const { profile } = (await post(session, "Profiler.stop")) as { profile: unknown };
    session.disconnect();
    this.session = null;
    writeFileSync(path, JSON.stringify(profile));
    return path;
  },
};

function post(session: Session, method: string, params?: object): Promise<unknown> {
  return new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
}

/**
 * Announces readiness and serves the stdin control channel. Exits when stdin closes,
 * so a server never outlives its runner.
 */
export function announce(port: number): void {
  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    const command = line.trim();
    if (command === "stats") void collectStats().then((stats) => process.stdout.write(`STATS ${JSON.stringify(stats)}\n`));
    else if (command === "profile-start") void profiler.start().then(() => process.stdout.write("PROFILING\n"));
    else if (command.startsWith("profile-stop ")) void profiler.stop(command.slice("profile-stop ".length)).then((path) => process.stdout.write(`PROFILE ${path}\n`));
  });
  lines.on("close", () => process.exit(0));
  process.stdout.write(`READY ${port}\n`);
}

/** Port of a listening node:net/http server. */
export function portOf(server: { address(): unknown }): number {
  const address = server.address();
  if (address === null || typeof address !== "object" || !("port" in address)) throw new Error("server is not listening");
  return (address as { port: number }).port;
}
