/**
 * The package as a user gets it: `npm pack` on a copy of the repository as a fresh clone has it (no dist/),
 * the tarball installed into a new project beside Express, Fastify, Koa, @koa/router, ioredis and TypeScript,
 * the README's marked snippets (`<!-- consumer-test: NAME -->` above a code fence) compiled there with tsc
 * and run with node, a CommonJS program using `require()`, and TypeScript resolving every subpath under
 * `nodenext`, `node16` and `bundler`.
 *
 * The framework packages are installed at the versions this repository has, from npm's cache (`--offline`),
 * else with the registry as a fallback (`--prefer-offline`); where neither works, they are linked from this
 * repository's node_modules and the tarball is unpacked in place of an install (WSMOUNT_CONSUMER_LINK=1
 * forces that).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, posix } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";

const run = promisify(execFile);
const repo = fileURLToPath(new URL("../..", import.meta.url));
const readme = readFileSync(join(repo, "README.md"), "utf8");

/** The packages a consumer project installs besides wsmount, at this repository's versions. */
const CONSUMER_PACKAGES = ["express", "fastify", "koa", "@koa/router", "ioredis", "typescript", "@types/express", "@types/koa", "@types/node"];
const ADAPTERS = ["express", "fastify", "koa", "node"] as const;
const TOKEN = "let-me-in";

/** The code of every README fence marked `<!-- consumer-test: NAME -->`, by name. */
function readmeSnippets(): Map<string, string> {
  const snippets = new Map<string, string>();
  for (const match of readme.matchAll(/<!-- consumer-test: ([\w-]+) -->\r?\n```(?:ts|js)\r?\n([\s\S]*?)\r?\n```/g)) {
    snippets.set(match[1]!, match[2]!);
  }
  return snippets;
}

/** The environment of a child npm or node: without what `npm test` and vitest put in this one. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|VITEST|NODE_OPTIONS$|NODE_ENV$)/i.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], { cwd, env: childEnv(), maxBuffer: 64 << 20 });
  return stdout;
}

/** tsc's errors, without those in other packages' declarations (only wsmount's own count). */
async function tscErrors(cwd: string, project: string): Promise<string[]> {
  const tsc = join(cwd, "node_modules", "typescript", "bin", "tsc");
  const output = await run(process.execPath, [tsc, "-p", project, "--pretty", "false"], { cwd, env: childEnv(), maxBuffer: 64 << 20 }).then(
    (result) => result.stdout,
    (error: { stdout?: string; stderr?: string }) => `${error.stdout ?? ""}${error.stderr ?? ""}`,
  );
  return output
    .split("\n")
    .filter((line) => /error TS\d+/.test(line))
    .filter((line) => {
      const file = line.slice(0, line.search(/\(\d+,\d+\): error/));
      return !file.includes("node_modules/") || file.includes("node_modules/wsmount/");
    });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

const children = new Set<ChildProcess>();

/** Starts `node file` in the consumer project with PORT set; resolves once the port takes connections. */
async function startServer(cwd: string, file: string): Promise<{ port: number; stop: () => Promise<void>; output: () => string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [file], { cwd, env: childEnv({ PORT: String(port) }), stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
    children.delete(child);
  };
  const deadline = Date.now() + 15_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null) throw new Error(`node ${file} exited with ${child.exitCode} before listening:\n${output}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`node ${file} did not listen on ${port} within 15 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { port, stop, output: () => output };
}

/** Opens a WebSocket; resolves with the open socket, or the HTTP status of a refused upgrade. */
function openWebSocket(url: string): Promise<WebSocket | number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once("open", () => resolve(socket));
    socket.once("unexpected-response", (_request, response) => {
      resolve(response.statusCode ?? 0);
      response.resume();
      socket.terminate();
    });
    socket.once("error", reject);
  });
}

async function echoes(port: number, query: string): Promise<void> {
  const socket = await openWebSocket(`ws://127.0.0.1:${port}/echo${query}`);
  if (typeof socket === "number") throw new Error(`the upgrade was refused with ${socket}`);
  const received: Array<{ data: string; isBinary: boolean }> = [];
  const two = new Promise<void>((resolve) =>
    socket.on("message", (data: Buffer, isBinary: boolean) => {
      received.push({ data: isBinary ? data.toString("hex") : data.toString("utf8"), isBinary });
      if (received.length === 2) resolve();
    }),
  );
  socket.send("hello, wsmount");
  socket.send(Buffer.from([0, 1, 2, 255]));
  await two;
  socket.close(1000);
  expect(received).toEqual([
    { data: "hello, wsmount", isBinary: false },
    { data: "000102ff", isBinary: true },
  ]);
}

let work: string;
let packed: { filename: string; size: number; unpackedSize: number; files: Array<{ path: string }> };
let app: string;
let installMode: "offline" | "registry" | "linked";
const compileErrors = new Map<string, string[]>();
const otherChecks = new Map<string, Promise<string[]>>();

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "wsmount-consumer-"));

  // A copy of the repository as a clone has it: tracked files and new ones, nothing ignored (no dist/).
  const source = join(work, "source");
  const { stdout: listed } = await run("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: repo, maxBuffer: 64 << 20 });
  for (const file of new Set(listed.split("\0").filter(Boolean))) {
    if (!existsSync(join(repo, file)) || file === "node_modules") continue;
    mkdirSync(dirname(join(source, file)), { recursive: true });
    cpSync(join(repo, file), join(source, file));
  }
  symlinkSync(realpathSync(join(repo, "node_modules")), join(source, "node_modules"), "dir");
  // The output of `prepare` (the build) comes before the JSON on stdout.
  const packOutput = await npm(["pack", "--json", "--pack-destination", work], source);
  const [info] = JSON.parse(packOutput.slice(packOutput.search(/^\[/m))) as (typeof packed)[];
  packed = info!;
  const tarball = join(work, packed.filename);

  app = join(work, "app");
  mkdirSync(join(app, "src"), { recursive: true });
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "wsmount-consumer", private: true, type: "module" }, null, 2));
  const versions = CONSUMER_PACKAGES.map((name) => `${name}@${JSON.parse(readFileSync(join(repo, "node_modules", name, "package.json"), "utf8")).version}`);
  const install = (mode: string) => npm(["install", mode, "--ignore-scripts", "--no-package-lock", tarball, ...versions], app);
  try {
    // WSMOUNT_CONSUMER_LINK=1 skips npm, to check the fallback.
    if (process.env.WSMOUNT_CONSUMER_LINK === "1") throw new Error("WSMOUNT_CONSUMER_LINK=1");
    await install("--offline");
    installMode = "offline";
  } catch (offline) {
    try {
      if (process.env.WSMOUNT_CONSUMER_LINK === "1") throw offline;
      await install("--prefer-offline");
      installMode = "registry";
    } catch (error) {
      console.warn(`consumer test: npm could not install the consumer project (${(error as Error).message.split("\n")[0]}); linking the packages from this repository's node_modules instead`);
      rmSync(join(app, "node_modules"), { recursive: true, force: true });
      const target = join(app, "node_modules", "wsmount");
      mkdirSync(target, { recursive: true });
      await run("tar", ["-xzf", tarball, "-C", target, "--strip-components=1"]);
      for (const name of [...CONSUMER_PACKAGES, "ws"]) {
        mkdirSync(dirname(join(app, "node_modules", name)), { recursive: true });
        symlinkSync(realpathSync(join(repo, "node_modules", name)), join(app, "node_modules", name), "dir");
      }
      installMode = "linked";
    }
  }

  // The README's snippets, plus files of this test's own: every subpath from ESM and from CommonJS.
  const snippets = readmeSnippets();
  for (const name of ADAPTERS) writeFileSync(join(app, "src", `${name}.ts`), snippets.get(name) ?? "");
  // Compiled (against the published declarations, which it augments), not run.
  writeFileSync(join(app, "src", "fastify-types.ts"), snippets.get("fastify-types") ?? "");
  writeFileSync(join(app, "server.cjs"), snippets.get("cjs") ?? "");
  writeFileSync(join(app, "src", "subpaths.ts"), SUBPATHS_TS);
  writeFileSync(join(app, "src", "require.cts"), REQUIRE_CTS);
  writeFileSync(join(app, "check.cjs"), CHECK_CJS);
  const base = { target: "es2022", strict: true, types: ["node"], lib: ["es2023", "dom"] };
  const configs: Record<string, unknown> = {
    // Emits the snippets for node; checks wsmount's own declarations too (skipLibCheck off).
    nodenext: { compilerOptions: { ...base, module: "nodenext", moduleResolution: "nodenext", outDir: "out", rootDir: "src", skipLibCheck: false }, include: ["src"] },
    node16: { compilerOptions: { ...base, module: "node16", moduleResolution: "node16", noEmit: true, skipLibCheck: true }, files: ["src/subpaths.ts"] },
    bundler: { compilerOptions: { ...base, module: "esnext", moduleResolution: "bundler", noEmit: true, skipLibCheck: true }, files: ["src/subpaths.ts"] },
  };
  for (const [name, config] of Object.entries(configs)) writeFileSync(join(app, `tsconfig.${name}.json`), JSON.stringify(config, null, 2));
  compileErrors.set("nodenext", await tscErrors(app, "tsconfig.nodenext.json"));
  // The other two only check types: they run while the compiled snippets do.
  for (const mode of ["node16", "bundler"]) otherChecks.set(mode, tscErrors(app, `tsconfig.${mode}.json`));
}, 300_000);

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe("the packed package", () => {
  it("holds the build, its declarations, the browser client, the docs the README links to, LICENSE and README; no sources, tests or maps", () => {
    const files = packed.files.map((file) => file.path).sort();
    for (const file of ["LICENSE", "README.md", "package.json", "dist/client/wsmount-client.min.js", "dist/client/wsmount-client.iife.min.js"]) {
      expect(files).toContain(file);
    }
    for (const subpath of ["core/index", "adapters/express", "adapters/fastify", "adapters/koa", "adapters/node", "adapters/redis", "client/index"]) {
      expect(files).toContain(`dist/${subpath}.js`);
      expect(files).toContain(`dist/${subpath}.d.ts`);
    }
    const unexpected = files.filter(
      (file) => !/^dist\/.+\.(js|d\.ts)$/.test(file) && !/^(LICENSE|README\.md|package\.json|docs\/[\w-]+\.md|client\/README\.md|bench\/(RESULTS|PROFILE)\.md|bench\/results\.svg|examples\/chat\/screenshot\.png)$/.test(file),
    );
    expect(unexpected).toEqual([]);
    expect(files.filter((file) => /(^|\/)test\/|\.map$|\.test\.|(?<!\.d)\.ts$/.test(file))).toEqual([]);
    expect(packed.size).toBeLessThan(400_000);
  });

  it("declares no internal member, and keeps the constructors of public classes", () => {
    const dist = join(app, "node_modules", "wsmount", "dist");
    const connection = readFileSync(join(dist, "core", "connection.d.ts"), "utf8");
    const endpoint = readFileSync(join(dist, "core", "endpoint.d.ts"), "utf8");
    expect(connection).not.toMatch(/_sendPrepared|_hold\(|_rooms/);
    expect(endpoint).not.toMatch(/\bacceptor\b|\bholdSlot\b|\bconnectionClosed\b/);
    expect(endpoint).toMatch(/export declare class Endpoint</);
    expect(connection).toMatch(/constructor\(ws: SocketLike/);
  });

  it("links, from every Markdown file it holds, only to files it holds", () => {
    const root = join(app, "node_modules", "wsmount");
    const broken: string[] = [];
    for (const file of packed.files.map((entry) => entry.path).filter((path) => path.endsWith(".md"))) {
      const text = readFileSync(join(root, file), "utf8");
      for (const match of text.matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)) {
        const target = match[1]!;
        if (/^[a-z]+:/i.test(target)) continue;
        const resolved = posix.normalize(posix.join(posix.dirname(file), target));
        if (!existsSync(join(root, resolved))) broken.push(`${file}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("is installed into a new project", () => {
    // "linked" means npm could reach neither its cache nor the registry; the checks below still hold.
    expect(["offline", "registry", "linked"]).toContain(installMode);
    expect(existsSync(join(app, "node_modules", "wsmount", "dist", "core", "index.js"))).toBe(true);
    expect(existsSync(join(app, "node_modules", "ws", "package.json"))).toBe(true);
  });
});

describe("the README's snippets in a new project", () => {
  it("marks a snippet for every adapter, for CommonJS and for Fastify's declaration merging", () => {
    expect([...readmeSnippets().keys()].sort()).toEqual(["cjs", "express", "fastify", "fastify-types", "koa", "node"]);
  });

  it("compile, with every subpath resolved, under moduleResolution nodenext (wsmount's declarations checked too)", () => {
    expect(compileErrors.get("nodenext")).toEqual([]);
  });

  it.each(ADAPTERS)("%s: runs with node; echoes, answers 401 before the upgrade, a plain GET, and the client script", async (adapter) => {
    const server = await startServer(app, `out/${adapter}.js`);
    try {
      await echoes(server.port, `?token=${TOKEN}`);
      expect(await openWebSocket(`ws://127.0.0.1:${server.port}/echo`)).toBe(401);
      expect(await openWebSocket(`ws://127.0.0.1:${server.port}/echo?token=wrong`)).toBe(401);

      const plain = await fetch(`http://127.0.0.1:${server.port}/echo?token=${TOKEN}`);
      await plain.arrayBuffer();
      // node:http: a plain request is the server's request handler's, which answers 404 in the snippet.
      expect(plain.status).toBe(adapter === "node" ? 404 : 426);
      if (adapter !== "node") expect(plain.headers.get("upgrade")).toBe("websocket");

      const script = await fetch(`http://127.0.0.1:${server.port}/wsmount.js`);
      expect(script.status).toBe(200);
      expect(script.headers.get("content-type")).toBe("application/javascript; charset=utf-8");
      const shipped = readFileSync(join(app, "node_modules", "wsmount", "dist", "client", "wsmount-client.min.js"), "utf8");
      expect(await script.text()).toBe(shipped);
      expect(shipped).toMatch(/export\s*\{[^}]*\bconnect\b/);
    } finally {
      await server.stop();
    }
  });

  it("cjs: runs with node, loading wsmount with require()", async () => {
    const server = await startServer(app, "server.cjs");
    try {
      await echoes(server.port, "");
    } finally {
      await server.stop();
    }
  });
});

describe("TypeScript's other module resolutions", () => {
  it.each(["node16", "bundler"])("%s resolves every subpath and its types", async (mode) => {
    expect(await otherChecks.get(mode)).toEqual([]);
  }, 120_000);
});

describe("CommonJS", () => {
  it("require() gives every subpath's exports", async () => {
    const { stdout } = await run(process.execPath, ["check.cjs"], { cwd: app, env: childEnv() });
    expect(JSON.parse(stdout)).toEqual({
      wsmount: { createEndpoint: "function", Endpoint: "function", ErrorCode: "object" },
      "wsmount/express": { websocket: "function", clientScript: "function", ExpressWebSocket: "function" },
      "wsmount/fastify": { websocket: "function", default: "function", sameDefault: true, clientScript: "function" },
      "wsmount/koa": { websocket: "function", clientScript: "function", KoaWebSocket: "function" },
      "wsmount/node": { websocket: "function", clientScript: "function", NodeWebSocket: "function" },
      "wsmount/client": { connect: "function", RemoteError: "function" },
      "wsmount/redis": { redisBroker: "function" },
      "wsmount/testing": { openTestClient: "function", expectRefused: "function" },
    });
  });

  it("a .cts file compiled with module nodenext imports every subpath, and runs", async () => {
    expect(compileErrors.get("nodenext")).toEqual([]);
    const { stdout } = await run(process.execPath, ["out/require.cjs"], { cwd: app, env: childEnv() });
    expect(stdout.trim()).toBe("ok");
  });
});

/** Every subpath from ESM, with a type from each, so that each one's declarations are resolved. */
const SUBPATHS_TS = `import { createEndpoint, type EndpointOptions } from "wsmount";
import { websocket as express, type ExpressWebSocket } from "wsmount/express";
import fastifyPlugin, { type FastifyWebSocket } from "wsmount/fastify";
import { websocket as koa, type KoaWebSocket } from "wsmount/koa";
import { websocket as node, type NodeWebSocket, type MountOptions } from "wsmount/node";
import { connect, type WsmountClient } from "wsmount/client";
import { redisBroker, type RedisBrokerOptions } from "wsmount/redis";
import { openTestClient, type TestClient } from "wsmount/testing";

const options: EndpointOptions<{ user: string }> = { pingInterval: 0 };
export const endpoints: [unknown, ExpressWebSocket<{ user: string }>, KoaWebSocket, NodeWebSocket] = [createEndpoint(options), express(options), koa(), node()];
export const mount: MountOptions = { path: "/echo" };
export const plugin: typeof fastifyPlugin = fastifyPlugin;
export type Decorated = FastifyWebSocket;
export const client: (url: string) => WsmountClient = (url) => connect(url);
export const redis: (options: RedisBrokerOptions) => unknown = redisBroker;
export const testClient: (url: string) => Promise<TestClient> = (url) => openTestClient(url, { timeout: 100 });
`;

/** Every subpath from a CommonJS TypeScript file (module nodenext: require() of ES modules). */
const REQUIRE_CTS = `import { createEndpoint } from "wsmount";
import { websocket as express } from "wsmount/express";
import fastify = require("wsmount/fastify");
import { websocket as koa } from "wsmount/koa";
import { websocket as node } from "wsmount/node";
import { connect } from "wsmount/client";
import { redisBroker } from "wsmount/redis";
import { openTestClient } from "wsmount/testing";

const loaded: unknown[] = [createEndpoint, express, fastify.websocket, koa, node, connect, redisBroker, openTestClient];
console.log(loaded.every((value) => typeof value === "function") ? "ok" : "missing");
`;

/** Every subpath with require(), reporting the type of a few exports of each. */
const CHECK_CJS = `const kinds = (module, names) => Object.fromEntries(names.map((name) => [name, typeof module[name]]));
const fastify = require("wsmount/fastify");
console.log(JSON.stringify({
  wsmount: kinds(require("wsmount"), ["createEndpoint", "Endpoint", "ErrorCode"]),
  "wsmount/express": kinds(require("wsmount/express"), ["websocket", "clientScript", "ExpressWebSocket"]),
  "wsmount/fastify": { ...kinds(fastify, ["websocket", "default"]), sameDefault: fastify.default === fastify.websocket, ...kinds(fastify, ["clientScript"]) },
  "wsmount/koa": kinds(require("wsmount/koa"), ["websocket", "clientScript", "KoaWebSocket"]),
  "wsmount/node": kinds(require("wsmount/node"), ["websocket", "clientScript", "NodeWebSocket"]),
  "wsmount/client": kinds(require("wsmount/client"), ["connect", "RemoteError"]),
  "wsmount/redis": kinds(require("wsmount/redis"), ["redisBroker"]),
  "wsmount/testing": kinds(require("wsmount/testing"), ["openTestClient", "expectRefused"]),
}));
`;
