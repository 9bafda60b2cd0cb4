/**
 * examples/cluster as a user runs it: the launcher starts a private redis-server and three processes of
 * the chat demo; people on different processes chat in one room.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until, within } from "../helpers/client.js";
import { ProtocolClient } from "../helpers/protocol-client.js";
import { eventually, findRedisServer } from "./harness.js";

const redisBinary = findRedisServer();

describe.skipIf(redisBinary === null)("examples/cluster/launch.ts", () => {
  let launcher: ChildProcess;
  let urls: string[] = [];
  let output = "";
  const clients: ProtocolClient[] = [];

  beforeAll(async () => {
    // As a developer runs it first: no WSMOUNT_SECRET.
    const { WSMOUNT_SECRET: _unset, ...env } = process.env;
    launcher = spawn(process.execPath, ["--import", "tsx", "examples/cluster/launch.ts", "--start-redis", "--port", "0"], { env, stdio: ["ignore", "pipe", "pipe"] });
    launcher.stderr!.on("data", (chunk: Buffer) => (output += chunk));
    urls = await within(
      new Promise<string[]>((resolve, reject) => {
        launcher.stdout!.on("data", (chunk: Buffer) => {
          output += chunk;
          const match = /ready: (.+) \(Redis/.exec(output);
          if (match) resolve(match[1]!.split(" "));
        });
        launcher.once("exit", (code) => reject(new Error(`the launcher exited (${code}): ${output}`)));
      }),
      "the cluster to be ready",
      30_000,
    );
  }, 40_000);

  afterAll(() => {
    for (const client of clients) client.close();
    if (launcher.exitCode === null) launcher.kill("SIGKILL");
  });

  /** A person in the chat demo, on process `index`. */
  async function enter(index: number, name: string): Promise<ProtocolClient> {
    const client = await ProtocolClient.connect(`${urls[index]!.replace("http", "ws")}/chat`);
    clients.push(client);
    expect(await client.call("hello", { name })).toMatchObject({ kind: "ack", result: { me: { name } } });
    return client;
  }

  it("starts three processes of the chat demo on their own ports that make one chat", async () => {
    expect(urls).toHaveLength(3);
    expect(new Set(urls).size).toBe(3);
    const ann = await enter(0, "ann");
    const bob = await enter(1, "bob");
    const cat = await enter(2, "cat");
    for (const client of [ann, bob, cat]) expect(await client.call("join", "lobby")).toMatchObject({ kind: "ack", result: { room: "lobby" } });

    // Presence travels between processes: each one ends up listing all three in the lobby (a join answers
    // with the room's members as its process knows them; joining again asks again).
    for (const client of [ann, bob, cat]) {
      const deadline = Date.now() + 5_000;
      let members: unknown[] = [];
      while (members.length !== 3 && Date.now() < deadline) {
        const answer = (await client.call("join", "lobby")) as { result?: { members?: unknown[] } };
        members = answer.result?.members ?? [];
        if (members.length !== 3) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(members, "the lobby to list three members").toHaveLength(3);
    }

    const sent = await bob.call("send", { room: "lobby", text: "hello from the second process" });
    expect(sent).toMatchObject({ kind: "ack", result: { text: "hello from the second process", from: { name: "bob" } } });
    for (const client of [ann, bob, cat]) {
      const [message] = await client.waitForEvents("message", 1);
      expect(message).toMatchObject({ room: "lobby", text: "hello from the second process", from: { name: "bob" } });
    }
    // Someone who arrives later on another process gets the history, kept across processes.
    const dan = await enter(0, "dan");
    const joined = await dan.call("join", "lobby");
    expect(joined).toMatchObject({ kind: "ack", result: { history: [{ text: "hello from the second process" }] } });
  });

  it("warns, on every process, that it signs with the public development secret when WSMOUNT_SECRET is not set", () => {
    const warnings = output.match(/\[p\d\] warning: WSMOUNT_SECRET is not set/g) ?? [];
    expect(warnings).toHaveLength(3);
  });

  it("reports no broker fault while Redis is up (presence waits for the broker to connect before it publishes)", () => {
    expect(output).not.toMatch(/unreachable|broker \w+ failed/);
  });

  it("serves the page and a health check on every process", async () => {
    for (const url of urls) {
      expect((await fetch(`${url}/`)).status).toBe(200);
      expect(await (await fetch(`${url}/healthz`)).json()).toMatchObject({ ok: true });
    }
  });

  it("refuses to start without WSMOUNT_SECRET when NODE_ENV is production", async () => {
    const { WSMOUNT_SECRET: _unset, ...env } = process.env;
    const chat = spawn(process.execPath, ["--import", "tsx", "examples/cluster/chat.ts"], { env: { ...env, NODE_ENV: "production", PORT: "0" }, stdio: ["ignore", "pipe", "pipe"] });
    let said = "";
    chat.stdout!.on("data", (chunk: Buffer) => (said += chunk));
    chat.stderr!.on("data", (chunk: Buffer) => (said += chunk));
    const code = await within(new Promise<number | null>((resolve) => chat.once("exit", resolve)), "the example to exit", 20_000);
    expect(code).toBe(1);
    expect(said).toMatch(/WSMOUNT_SECRET must be set in production/);
    expect(said).not.toMatch(/listening/);
  });

  it("stops every process and the private Redis on SIGTERM", async () => {
    const exited = new Promise<number | null>((resolve) => launcher.once("exit", resolve));
    launcher.kill("SIGTERM");
    expect(await within(exited, "the launcher to exit", 10_000)).toBe(0);
    await until(() => clients.every((client) => client.ws.readyState === client.ws.CLOSED), "the clients to be closed");
    const refused = await fetch(`${urls[0]}/healthz`).then(
      () => false,
      () => true,
    );
    expect(refused).toBe(true);
    const redisPort = Number(/\(Redis redis:\/\/127\.0\.0\.1:(\d+)\)/.exec(output)?.[1]);
    const redisGone = await new Promise<boolean>((resolve) => {
      const socket = connect(redisPort, "127.0.0.1");
      socket.once("connect", () => (socket.destroy(), resolve(false)));
      socket.once("error", () => resolve(true));
    });
    expect(redisGone).toBe(true);
  });
});
