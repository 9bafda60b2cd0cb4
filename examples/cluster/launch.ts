/**
 * Starts the chat demo (examples/chat, through examples/cluster/chat.ts) as several processes on
 * consecutive ports, all sharing one Redis:
 *
 *   npx tsx examples/cluster/launch.ts                      # 3 processes on 3001-3003, Redis at $REDIS_URL or localhost:6379
 *   npx tsx examples/cluster/launch.ts --processes 2 --port 4000
 *   npx tsx examples/cluster/launch.ts --start-redis        # also start a private redis-server for the demo
 *   npx tsx examples/cluster/launch.ts --server path/to/server.ts   # another server (reads PORT, REDIS_URL; prints "listening on http://...")
 *
 * `--port 0` gives every process a free port. Prints one `ready` line with every URL once all listen;
 * Ctrl-C stops them all (and the private Redis).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    processes: { type: "string", default: "3" },
    port: { type: "string", default: "3001" },
    redis: { type: "string", default: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" },
    "start-redis": { type: "boolean", default: false },
    server: { type: "string", default: fileURLToPath(new URL("./chat.ts", import.meta.url)) },
  },
});

const count = Number(values.processes);
const basePort = Number(values.port);
if (!Number.isInteger(count) || count < 1 || count > 16) throw new TypeError("--processes must be 1 to 16");
if (!Number.isInteger(basePort) || basePort < 0 || basePort + count > 65_536) throw new TypeError("--port must be a port number (0: free ports)");

const children: ChildProcess[] = [];
let redisServer: ChildProcess | null = null;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Resolves with the first match of `pattern` in the child's output, echoing its lines with a tag. */
function watch(child: ChildProcess, tag: string, pattern: RegExp, echo = true): Promise<RegExpExecArray> {
  let output = "";
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      if (echo) for (const line of text.split("\n")) if (line.trim() !== "") console.log(`[${tag}] ${line}`);
      output += text;
      const match = pattern.exec(output);
      if (match) resolve(match);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`${tag} exited (${code}) before it was ready`)));
  });
}

async function startRedis(): Promise<string> {
  const binary = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).stdout.trim();
  if (binary === "") throw new Error("--start-redis needs redis-server (apt-get install redis-server)");
  const port = await freePort();
  redisServer = spawn(binary, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: ["ignore", "pipe", "pipe"] });
  await watch(redisServer, "redis", /Ready to accept connections/, false);
  return `redis://127.0.0.1:${port}`;
}

async function stopAll(): Promise<void> {
  await Promise.all(
    children.map((child) => (child.exitCode === null && child.signalCode === null ? new Promise((resolve) => child.once("exit", resolve).kill("SIGTERM")) : undefined)),
  );
  if (redisServer !== null && redisServer.exitCode === null) await new Promise((resolve) => redisServer!.once("exit", resolve).kill("SIGTERM"));
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void stopAll().then(() => process.exit(0)));
}

try {
  const redisUrl = values["start-redis"] ? await startRedis() : values.redis;
  const urls = await Promise.all(
    Array.from({ length: count }, (_, index) => {
      const label = `p${index + 1}`;
      const child = spawn(process.execPath, ["--import", "tsx", values.server], {
        env: { ...process.env, PORT: String(basePort === 0 ? 0 : basePort + index), REDIS_URL: redisUrl, PROCESS: label },
        stdio: ["ignore", "pipe", "pipe"],
      });
      children.push(child);
      return watch(child, label, /listening on (http:\/\/\S+)/).then((match) => match[1]!);
    }),
  );
  console.log(`ready: ${urls.join(" ")} (Redis ${redisUrl})`);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  await stopAll();
  process.exit(1);
}
