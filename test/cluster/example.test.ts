/**
 * examples/cluster as a user runs it: the launcher starts a private redis-server and three chat
 * processes; clients on different processes chat in one room and send direct messages across them.
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
    launcher = spawn(process.execPath, ["--import", "tsx", "examples/cluster/launch.ts", "--start-redis", "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
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

  async function join(index: number, name: string): Promise<ProtocolClient> {
    const client = await ProtocolClient.connect(`${urls[index]!.replace("http", "ws")}/chat`);
    clients.push(client);
    const answer = await client.call("join", { room: "lobby", name });
    expect(answer).toMatchObject({ kind: "ack", result: { process: `p${index + 1}` } });
    return client;
  }

  it("starts three processes on their own ports that make one chat", async () => {
    expect(urls).toHaveLength(3);
    expect(new Set(urls).size).toBe(3);
    const ann = await join(0, "ann");
    const bob = await join(1, "bob");
    const cat = await join(2, "cat");
    // Each join's answer counts the room across processes; the last one sees everybody once presence is written.
    await eventually(async () => {
      const answer = await cat.call("join", { room: "lobby", name: "cat" });
      return answer.kind === "ack" && (answer.result as { members: number }).members === 3;
    }, "the lobby to count 3");

    bob.emit("say", "hello from p2");
    for (const client of [ann, bob, cat]) {
      const said = await client.waitForEvents("said", 1);
      expect(said[0]).toEqual({ name: "bob", text: "hello from p2", process: "p2" });
    }

    // A direct message to a connection on another process, with the recipient's read receipt.
    const welcome = cat.received.find((message) => message.kind === "welcome");
    expect(welcome).toBeDefined();
    cat.answer("dm", () => "read");
    const receipt = await ann.call("dm", { to: (welcome as { id: string }).id, text: "psst" });
    expect(receipt).toMatchObject({ kind: "ack", result: "read" });
    expect(cat.events("dm")).toEqual([{ from: "ann", text: "psst" }]);
  });

  it("serves the page and a health check on every process", async () => {
    for (const [index, url] of urls.entries()) {
      const page = await (await fetch(`${url}/`)).text();
      expect(page).toContain(`Chat, served by process p${index + 1}`);
      const health = (await (await fetch(`${url}/healthz`)).json()) as { process: string; broker: { connected: boolean } };
      expect(health).toMatchObject({ process: `p${index + 1}`, broker: { connected: true } });
    }
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
