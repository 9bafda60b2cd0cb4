/**
 * Cross-process broadcast benchmark: deliveries per second when one process publishes broadcasts to a
 * room whose members are spread over 1, 2 or 3 server processes sharing a redis-server, with the
 * in-process broker as the single-process control. Also the CPU time each part used (server
 * processes, redis-server, the clients) per delivery and per publication: how the cost grows with
 * processes, including on processes that have no member of the room.
 *
 *   npx tsx bench/cluster/run.ts [--clients 300] [--messages 2000] [--size 100] [--runs 3]
 *
 * Clients (plain `ws` clients that count messages) run in this process. Writes bench/out/cluster.json.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import WebSocket from "ws";
import { decode, encodeEvent } from "../../core/protocol/index.js";

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "300" },
    messages: { type: "string", default: "2000" },
    size: { type: "string", default: "100" },
    runs: { type: "string", default: "3" },
  },
});
const CLIENTS = Number(values.clients);
const MESSAGES = Number(values.messages);
const SIZE = Number(values.size);
const RUNS = Number(values.runs);
const BURST_TIMEOUT = 120_000;

interface Setup {
  label: string;
  broker: "memory" | "redis";
  processes: number;
  /** Every member on the publishing process: the others receive every publication and deliver none. */
  membersOnFirst?: boolean;
}

const SETUPS: Setup[] = [
  { label: "1 process, in-process broker (control)", broker: "memory", processes: 1 },
  { label: "1 process, Redis broker", broker: "redis", processes: 1 },
  { label: "2 processes, Redis broker", broker: "redis", processes: 2 },
  { label: "3 processes, Redis broker", broker: "redis", processes: 3 },
  { label: "3 processes, Redis broker, every member on process 1", broker: "redis", processes: 3, membersOnFirst: true },
  // Again at the end: tells how much the numbers drift over the run (JIT warm-up, machine load).
  { label: "1 process, in-process broker (control, again)", broker: "memory", processes: 1 },
];

interface Result {
  setup: string;
  processes: number;
  deliveriesPerSecond: number;
  elapsedMs: number;
  /** CPU of every server process together, per delivery. */
  serverCpuUsPerDelivery: number;
  /** CPU of redis-server per publication (its background work included). */
  redisCpuUsPerPublication: number;
  /** CPU of each server process per publication (the publishing process first). */
  perProcessCpuUsPerPublication: number[];
  /** CPU of the benchmark's clients per delivery. */
  clientCpuUsPerDelivery: number;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function waitForOutput(child: ChildProcess, pattern: RegExp, what: string): Promise<RegExpExecArray> {
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${output}`)), 20_000);
    const check = (chunk: Buffer) => {
      output += chunk;
      const match = pattern.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    };
    child.stdout!.on("data", check);
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk));
    child.once("exit", (code) => reject(new Error(`${what} exited (${code}): ${output}`)));
  });
}

async function startRedis(): Promise<{ child: ChildProcess; port: number }> {
  const binary = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).stdout.trim();
  if (binary === "") throw new Error("redis-server is not installed (apt-get install redis-server)");
  const port = await freePort();
  const child = spawn(binary, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: ["ignore", "pipe", "pipe"] });
  await waitForOutput(child, /Ready to accept connections/, "redis-server");
  return { child, port };
}

async function startServer(broker: string, redisUrl: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("./server.ts", import.meta.url))], {
    env: { ...process.env, BROKER: broker, REDIS_URL: redisUrl },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const [, port] = await waitForOutput(child, /listening (\d+)/, "server");
  return { child, port: Number(port) };
}

/** A control connection that calls events and awaits their answers. */
class Control {
  readonly #ws: WebSocket;
  #next = 1;
  readonly #waiting = new Map<number, (result: unknown) => void>();

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on("message", (data: Buffer) => {
      const message = decode(data.toString());
      if (message.kind === "ack") this.#waiting.get(message.ackId)?.(message.result);
    });
  }

  static async open(port: number): Promise<Control> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?control=1`);
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    return new Control(ws);
  }

  call<T>(event: string, data?: unknown): Promise<T> {
    const id = this.#next++;
    this.#ws.send(encodeEvent(event, data, id));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${event}`)), BURST_TIMEOUT);
      this.#waiting.set(id, (result) => {
        clearTimeout(timer);
        this.#waiting.delete(id);
        resolve(result as T);
      });
    });
  }

  close(): void {
    this.#ws.terminate();
  }
}

async function redisCpuMs(redis: Redis | null): Promise<number> {
  if (redis === null) return 0;
  const info = await redis.info("cpu");
  const read = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return (read("used_cpu_user") + read("used_cpu_sys")) * 1000;
}

async function measure(setup: Setup): Promise<Result[]> {
  const redisServer = setup.broker === "redis" ? await startRedis() : null;
  const redisUrl = redisServer === null ? "" : `redis://127.0.0.1:${redisServer.port}`;
  const admin = redisServer === null ? null : new Redis(redisUrl);
  const servers = await Promise.all(Array.from({ length: setup.processes }, () => startServer(setup.broker, redisUrl)));
  const controls = await Promise.all(servers.map((server) => Control.open(server.port)));
  let received = 0;
  const sockets: WebSocket[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${servers[setup.membersOnFirst ? 0 : i % servers.length]!.port}/ws`);
    ws.on("message", () => void received++);
    sockets.push(ws);
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  }
  // Every process sees every member: presence has reached Redis.
  const deadline = Date.now() + 10_000;
  while ((await controls[0]!.call<number>("ready")) !== CLIENTS) {
    if (Date.now() > deadline) throw new Error("the room never reached its size");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  const burst = async (count: number): Promise<number> => {
    received = 0;
    const expected = count * CLIENTS;
    const started = process.hrtime.bigint();
    await controls[0]!.call("burst", { count, size: SIZE });
    const end = Date.now() + BURST_TIMEOUT;
    while (received < expected) {
      if (Date.now() > end) throw new Error(`only ${received} of ${expected} deliveries arrived`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    return Number(process.hrtime.bigint() - started) / 1e6;
  };

  await burst(Math.min(200, MESSAGES));
  const results: Result[] = [];
  for (let run = 0; run < RUNS; run++) {
    await Promise.all(controls.map((control) => control.call("cpu")));
    const redisBefore = await redisCpuMs(admin);
    const clientBefore = process.cpuUsage();
    const elapsedMs = await burst(MESSAGES);
    const clientCpu = process.cpuUsage(clientBefore);
    const perProcessCpuMs = await Promise.all(controls.map((control) => control.call<number>("cpu")));
    const redisMs = (await redisCpuMs(admin)) - redisBefore;
    const deliveries = MESSAGES * CLIENTS;
    results.push({
      setup: setup.label,
      processes: setup.processes,
      elapsedMs,
      deliveriesPerSecond: Math.round(deliveries / (elapsedMs / 1000)),
      serverCpuUsPerDelivery: (perProcessCpuMs.reduce((a, b) => a + b, 0) * 1000) / deliveries,
      redisCpuUsPerPublication: (redisMs * 1000) / MESSAGES,
      perProcessCpuUsPerPublication: perProcessCpuMs.map((ms) => (ms * 1000) / MESSAGES),
      clientCpuUsPerDelivery: (clientCpu.user + clientCpu.system) / deliveries,
    });
  }

  for (const ws of sockets) ws.terminate();
  for (const control of controls) control.close();
  admin?.disconnect();
  await Promise.all(servers.map(({ child }) => new Promise((resolve) => child.once("exit", resolve).kill("SIGTERM"))));
  if (redisServer !== null) await new Promise((resolve) => redisServer.child.once("exit", resolve).kill("SIGKILL"));
  return results;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const all: Result[] = [];
console.log(`${CLIENTS} clients (split evenly over the processes), ${MESSAGES} broadcasts of a ${SIZE}-byte pad from process 1, ${RUNS} runs, median shown`);
console.log("| setup | deliveries/s | burst ms | server CPU µs per delivery | CPU µs per publication, each process | redis-server CPU µs per publication | client CPU µs per delivery |");
console.log("|---|---:|---:|---:|---|---:|---:|");
for (const setup of SETUPS) {
  const results = await measure(setup);
  all.push(...results);
  const pick = (get: (r: Result) => number) => median(results.map(get));
  const perProcess = Array.from({ length: setup.processes }, (_, i) => pick((r) => r.perProcessCpuUsPerPublication[i]!).toFixed(0)).join(" / ");
  console.log(
    `| ${setup.label} | ${pick((r) => r.deliveriesPerSecond).toLocaleString("en-US")} | ${pick((r) => r.elapsedMs).toFixed(0)} | ${pick((r) => r.serverCpuUsPerDelivery).toFixed(2)} | ${perProcess} | ${pick((r) => r.redisCpuUsPerPublication).toFixed(1)} | ${pick((r) => r.clientCpuUsPerDelivery).toFixed(2)} |`,
  );
}
mkdirSync(new URL("../out/", import.meta.url), { recursive: true });
writeFileSync(new URL("../out/cluster.json", import.meta.url), JSON.stringify({ clients: CLIENTS, messages: MESSAGES, size: SIZE, results: all }, null, 2));
process.exit(0);
