/**
 * Faults with a real redis-server and three wsmount processes: Redis unreachable at start, one process
 * cut off from Redis while the others keep it, Redis lost and back (empty, as after a restart without
 * persistence), and a process killed without a goodbye. Process p0 reaches Redis through a relay that
 * the tests can cut. The tests run in order; each starts from the state the previous one left.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until } from "../helpers/client.js";
import type { ProtocolClient } from "../helpers/protocol-client.js";
import { CuttableRelay, RedisServer, ServerProcess, ask, eventually, findRedisServer, freePort, visible } from "./harness.js";

const redisBinary = findRedisServer();

interface Stats {
  connected: boolean;
  published: number;
  received: number;
  dropped: number;
  errors: number;
  reconnects: number;
}

const HEARTBEAT_INTERVAL = 200;
const NODE_TIMEOUT = 1000;

describe.skipIf(redisBinary === null).sequential("faults", () => {
  let redis: RedisServer;
  let relay: CuttableRelay;
  let processes: ServerProcess[] = [];
  const clients: ProtocolClient[] = [];
  let fences = 0;
  // a and b on p0 (in room "local"), c on p1, x on p2.
  let a: ProtocolClient;
  let b: ProtocolClient;
  let c: ProtocolClient;
  let x: ProtocolClient;

  beforeAll(async () => {
    // Redis is not running yet: the processes start without it.
    redis = new RedisServer(redisBinary!, await freePort());
    relay = new CuttableRelay(redis.port);
    await relay.start();
    const settings = { redisUrl: redis.url, prefix: `faults-${process.pid}`, heartbeatInterval: HEARTBEAT_INTERVAL, nodeTimeout: NODE_TIMEOUT };
    processes = await Promise.all(["p0", "p1", "p2"].map((label, index) => ServerProcess.start(label, index === 0 ? { ...settings, redisUrl: relay.url } : settings)));
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await Promise.all(processes.map((server) => server.kill()));
    await relay?.stop();
    await redis?.stop();
  });

  async function connect(index: number, id: string): Promise<ProtocolClient> {
    const client = await processes[index]!.connect(id);
    clients.push(client);
    return client;
  }

  const stats = (client: ProtocolClient) => ask<Stats>(client, "stats");

  /** Sends fences from `from` until `to` gets one: the way between their processes works (again). */
  async function crossingWorks(from: ProtocolClient, to: ProtocolClient): Promise<void> {
    await eventually(async () => {
      const n = ++fences;
      await ask(from, "send", { to: [await idOf(to)], event: "fence", data: n, via: "endpoint" });
      await new Promise((resolve) => setTimeout(resolve, 50));
      return to.events("fence").includes(n);
    }, "a publication to cross processes");
  }

  async function idOf(client: ProtocolClient): Promise<string> {
    return (await ask<{ id: string }>(client, "whoami")).id;
  }

  /** An error answer's code, from a fixture event that must fail. */
  async function failure(client: ProtocolClient, event: string, data: unknown): Promise<string | undefined> {
    try {
      await ask(client, event, data);
    } catch (error) {
      return (error as { code?: string }).code;
    }
    throw new Error(`${event} did not fail`);
  }

  it("works locally while Redis is unreachable at start, and reports it", async () => {
    [a, b, c, x] = await Promise.all([connect(0, "a"), connect(0, "b"), connect(1, "c"), connect(2, "x")]);
    for (const client of [a, b]) expect(await ask(client, "join", "local")).toBe(true);
    await ask(a, "send", { to: ["local"], event: "local-news", via: "endpoint" });
    await until(() => a.events("local-news").length === 1 && b.events("local-news").length === 1, "local delivery");

    // Published while Redis is unreachable: delivered here, dropped for the other processes.
    await ask(a, "send", { to: ["c"], event: "lost-at-start", via: "endpoint" });
    const down = await stats(a);
    expect(down.connected).toBe(false);
    expect(down.dropped).toBeGreaterThanOrEqual(1);
    // Both reports come from the broker's own connection attempts, which race the drop counted above.
    const reported = async (pattern: RegExp) => (await ask<string[]>(a, "brokerErrors")).some((message) => pattern.test(message));
    await eventually(() => reported(/broker connect failed: Redis (command|subscriber) connection: /), "the connect failure reported");
    await eventually(() => reported(/publications reach this process only/), "the dropped publication reported");
    // Cluster queries fail fast; a connection of this very process is known all the same.
    expect(await failure(a, "isOnline", "c")).toBe("ERR_WSMOUNT_BROKER");
    expect(await failure(a, "roomSize", "local")).toBe("ERR_WSMOUNT_BROKER");
    expect(await ask(a, "isOnline", "b")).toBe(true);
  });

  it("connects and subscribes by itself once Redis is there, without replaying what it dropped", async () => {
    await redis.start();
    for (const client of [a, c, x]) await eventually(async () => (await stats(client)).connected, "the broker to connect");
    await crossingWorks(a, c);
    await crossingWorks(c, x);
    await crossingWorks(x, a);
    // Presence written when the connection came up: the connections opened before are there.
    await visible(a, "c");
    await visible(c, "x");
    await eventually(async () => (await ask<number>(c, "roomSize", "local")) === 2, "room local to count 2");
    expect(c.events("lost-at-start")).toEqual([]);
  });

  it("drops, and never replays, what a process cut off from Redis publishes; the others carry on", async () => {
    const before = await stats(a);
    relay.cut();
    await eventually(async () => !(await stats(a)).connected, "p0 to notice it is cut off");
    await ask(a, "send", { to: ["local"], event: "while-cut", via: "endpoint" });
    await until(() => b.events("while-cut").length === 1, "local delivery while cut off");
    // c and x stay subscribed throughout: a replay after the cut would reach c.
    await ask(a, "send", { to: ["c"], event: "lost-while-cut", via: "endpoint" });
    expect((await stats(a)).dropped).toBeGreaterThan(before.dropped);
    await crossingWorks(c, x);
    // Cut off for longer than nodeTimeout, p0 counts as gone for the others, as a dead process would.
    await eventually(async () => (await ask<boolean>(c, "isOnline", "a")) === false, "a to leave the cluster's presence", NODE_TIMEOUT + 2000);
    expect(await ask(c, "roomSize", "local")).toBe(0);

    relay.restore();
    await eventually(async () => (await stats(a)).connected, "p0 to reconnect");
    await crossingWorks(a, c);
    await crossingWorks(c, a);
    await visible(c, "a");
    await eventually(async () => (await ask<number>(c, "roomSize", "local")) === 2, "room local to count 2 again");
    expect(c.events("lost-while-cut")).toEqual([]);
    expect(c.events("fence").length).toBeGreaterThan(0);
  });

  it("keeps local delivery through a Redis outage, then reconnects, resubscribes and rewrites its presence", async () => {
    const errorsBefore = (await ask<string[]>(a, "brokerErrors")).length;
    const before = await stats(a);
    await redis.stop();
    await eventually(async () => !(await stats(a)).connected, "the broker to notice the outage");

    await ask(a, "send", { to: ["local"], event: "during-outage", via: "endpoint" });
    await until(() => b.events("during-outage").length === 1, "local delivery during the outage");
    await ask(a, "send", { to: ["c"], event: "lost-in-outage", via: "endpoint" });
    const during = await stats(a);
    expect(during.dropped).toBeGreaterThan(before.dropped);
    expect((await ask<string[]>(a, "brokerErrors")).length).toBeGreaterThan(errorsBefore);
    expect(await failure(a, "isOnline", "c")).toBe("ERR_WSMOUNT_BROKER");

    // Back, empty: the restarted server kept nothing.
    await redis.start();
    for (const client of [a, c, x]) await eventually(async () => (await stats(client)).connected, "the broker to reconnect");
    expect((await stats(a)).reconnects).toBeGreaterThan(before.reconnects);
    await crossingWorks(a, c);
    await crossingWorks(c, a);
    await visible(a, "c");
    await visible(a, "x");
    await eventually(async () => (await ask<number>(x, "roomSize", "local")) === 2, "room local to count 2 again");
    expect(c.events("lost-in-outage")).toEqual([]);
  });

  it("drops a killed process's connections from cluster queries within nodeTimeout, and fails what waited on it", async () => {
    expect(await ask(x, "join", "local")).toBe(true);
    await eventually(async () => (await ask<number>(a, "roomSize", "local")) === 3, "room local to count 3");
    await visible(a, "x");
    const waiting = ask<{ error?: { name: string; code: string } }>(a, "ask", { id: "x", event: "never", timeout: 0 });
    await until(() => x.received.some((m) => m.kind === "event" && m.name === "never"), "the call to reach x");

    await processes[2]!.kill();
    // Bound: nodeTimeout after the last heartbeat, plus a query's poll; generous for a loaded machine.
    const bound = NODE_TIMEOUT + 4 * HEARTBEAT_INTERVAL + 1000;
    await eventually(async () => (await ask<boolean>(a, "isOnline", "x")) === false, "x to go offline", bound);
    expect(await ask(a, "roomSize", "local")).toBe(2);
    expect(await ask(c, "session", "x")).toBe(null);
    const answer = await waiting;
    expect(answer.error).toMatchObject({ name: "AckError", code: "ERR_WSMOUNT_DISCONNECTED" });
    // The others carry on.
    await crossingWorks(c, a);
  });
});
