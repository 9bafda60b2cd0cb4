/**
 * The cluster tests' machinery: a real redis-server (the Debian package) on a free loopback port, and
 * wsmount server processes (fixtures/server.ts, run with tsx) connected to it.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { connect, createServer, type Server, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { ProtocolClient } from "../helpers/protocol-client.js";
import { within } from "../helpers/client.js";

/**
 * The path of redis-server, or null when it is not installed (the tests then skip, with a notice).
 * Under CI (`CI` set) a missing redis-server is an error: those runs must never skip these tests.
 */
export function findRedisServer(): string | null {
  const found = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" });
  const path = found.status === 0 ? found.stdout.trim() : "";
  if (path !== "") return path;
  if (process.env.CI) throw new Error("redis-server is not installed, and CI is set: the cluster tests must run (apt-get install redis-server)");
  console.warn("\n  NOTICE: redis-server is not installed; the cluster tests are skipped (apt-get install redis-server to run them)\n");
  return null;
}

/** A free TCP port on 127.0.0.1 (nothing listens on it when this resolves). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Waits until `output()` matches `pattern`, or the process exits. */
function waitFor(child: ChildProcess, output: () => string, pattern: RegExp, what: string, ms: number): Promise<RegExpExecArray> {
  return within(
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(output());
        if (match) {
          child.stdout?.off("data", check);
          child.off("exit", exited);
          resolve(match);
        }
      };
      const exited = (code: number | null) => reject(new Error(`${what} exited (${code}) before it was ready:\n${output()}`));
      child.stdout?.on("data", check);
      child.once("exit", exited);
      check();
    }),
    what,
    ms,
  );
}

/** A redis-server without persistence, on one port, that can be stopped and started again. */
export class RedisServer {
  readonly #binary: string;
  readonly port: number;
  #child: ChildProcess | null = null;

  constructor(binary: string, port: number) {
    this.#binary = binary;
    this.port = port;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    let output = "";
    const child = spawn(this.#binary, ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#child = child;
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk));
    await waitFor(child, () => output, /Ready to accept connections/, `redis-server on port ${this.port}`, 10_000);
  }

  /** Stops the server (and so loses its data: there is no persistence). */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = null;
    if (child === null || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }
}

/**
 * A TCP relay to Redis on loopback that can cut its connections and refuse new ones, to cut one
 * process off from Redis while the others keep it.
 */
export class CuttableRelay {
  readonly #target: number;
  readonly #sockets = new Set<Socket>();
  #server: Server | null = null;
  #cut = false;
  port = 0;

  constructor(target: number) {
    this.#target = target;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = createServer((client) => {
      if (this.#cut) {
        client.destroy();
        return;
      }
      const upstream = connect(this.#target, "127.0.0.1");
      for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
        this.#sockets.add(from);
        from.pipe(to);
        from.on("error", () => to.destroy());
        from.on("close", () => {
          this.#sockets.delete(from);
          to.destroy();
        });
      }
    });
    this.#server = server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.port = (server.address() as { port: number }).port;
  }

  /** Drops every relayed connection and refuses new ones until {@link restore}. */
  cut(): void {
    this.#cut = true;
    for (const socket of this.#sockets) socket.destroy();
  }

  restore(): void {
    this.#cut = false;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.#server?.close(resolve));
  }
}

/** The broker secret of the cluster tests' processes (test-only: a real one comes from a secret store). */
export const TEST_SECRET = "wsmount cluster tests: not a secret, 32 bytes or more";

/** Settings of a fixture process. */
export interface ProcessSettings {
  redisUrl: string;
  prefix: string;
  /** The broker's secret. @defaultValue {@link TEST_SECRET} */
  secret?: string;
  heartbeatInterval?: number;
  nodeTimeout?: number;
  requestTimeout?: number;
}

const FIXTURE = fileURLToPath(new URL("./fixtures/server.ts", import.meta.url));

/** One wsmount server process of the cluster. */
export class ServerProcess {
  readonly label: string;
  readonly #child: ChildProcess;
  #output = "";
  #port = 0;

  private constructor(label: string, child: ChildProcess) {
    this.label = label;
    this.#child = child;
    child.stdout!.on("data", (chunk: Buffer) => (this.#output += chunk));
    child.stderr!.on("data", (chunk: Buffer) => (this.#output += chunk));
  }

  /** Starts a fixture process and resolves once it listens. */
  static async start(label: string, settings: ProcessSettings): Promise<ServerProcess> {
    const child = spawn(process.execPath, ["--import", "tsx", FIXTURE], {
      env: {
        ...process.env,
        PROCESS: label,
        REDIS_URL: settings.redisUrl,
        PREFIX: settings.prefix,
        SECRET: settings.secret ?? TEST_SECRET,
        HEARTBEAT_INTERVAL: String(settings.heartbeatInterval ?? 200),
        NODE_TIMEOUT: String(settings.nodeTimeout ?? 1000),
        REQUEST_TIMEOUT: String(settings.requestTimeout ?? 2000),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const server = new ServerProcess(label, child);
    const [, port] = await waitFor(child, () => server.#output, /listening (\d+)/, `server process ${label}`, 20_000);
    server.#port = Number(port);
    return server;
  }

  /** What the process printed. */
  get output(): string {
    return this.#output;
  }

  /** Connects a client with connection id `id` (and session user `user`). */
  connect(id: string, user = id): Promise<ProtocolClient> {
    return ProtocolClient.connect(`ws://127.0.0.1:${this.#port}/ws?id=${encodeURIComponent(id)}&user=${encodeURIComponent(user)}`);
  }

  /** Kills the process at once: no goodbye to Redis, as in a crash. */
  async kill(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once("exit", resolve));
    this.#child.kill("SIGKILL");
    await exited;
  }
}

/** Calls a fixture event and returns its result; an error answer throws with its message and code. */
export async function ask<T = unknown>(client: ProtocolClient, event: string, data?: unknown): Promise<T> {
  const answer = await client.call(event, data);
  if (answer.kind === "ack") return answer.result as T;
  if (answer.kind === "ackError") throw Object.assign(new Error(answer.error.message), { code: answer.error.code });
  throw new Error(`unexpected answer to ${event}: ${JSON.stringify(answer)}`);
}

/** Polls an async check every 20 ms until it holds, for up to `ms`. */
export async function eventually(check: () => Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Waits until connection `id` shows in the cluster's presence as seen from `from`'s process: a
 * connection is written to Redis right after it opens, so a query racing its opening can miss it.
 */
export function visible(from: ProtocolClient, id: string): Promise<void> {
  return eventually(async () => (await ask<boolean>(from, "isOnline", id)) === true, `${id} to be online`);
}
