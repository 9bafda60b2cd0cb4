/**
 * Rooms, broadcasts, targeted sends, presence queries and acknowledged emits across three wsmount
 * processes sharing a real redis-server, with real clients on each process.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { until } from "../helpers/client.js";
import type { ProtocolClient } from "../helpers/protocol-client.js";
import { RedisServer, ServerProcess, ask, eventually, findRedisServer, freePort, visible } from "./harness.js";

const redisBinary = findRedisServer();

describe.skipIf(redisBinary === null)("three processes on one Redis", () => {
  let redis: RedisServer;
  let processes: ServerProcess[] = [];
  const clients: ProtocolClient[] = [];
  let fences = 0;

  beforeAll(async () => {
    redis = new RedisServer(redisBinary!, await freePort());
    await redis.start();
    const settings = { redisUrl: redis.url, prefix: `delivery-${process.pid}` };
    processes = await Promise.all(["p0", "p1", "p2"].map((label) => ServerProcess.start(label, settings)));
  });

  afterAll(async () => {
    await Promise.all(processes.map((server) => server.kill()));
    await redis?.stop();
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  /** Connects client `id` to process `index`. */
  async function join(index: number, id: string, ...rooms: string[]): Promise<ProtocolClient> {
    const client = await processes[index]!.connect(id);
    clients.push(client);
    for (const room of rooms) expect(await ask(client, "join", room)).toBe(true);
    return client;
  }

  /**
   * Publications of one process reach every other process in order, so once a later broadcast from
   * the same process has reached everyone, so has everything it published before.
   */
  async function fence(from: ProtocolClient, everyone: ProtocolClient[]): Promise<void> {
    const n = ++fences;
    await ask(from, "send", { event: "fence", data: n, via: "endpoint" });
    await until(() => everyone.every((client) => client.events("fence").includes(n)), `fence ${n} on every client`);
  }

  /** How many times each client got `event`. */
  function counts(event: string, everyone: Record<string, ProtocolClient>): Record<string, number> {
    return Object.fromEntries(Object.entries(everyone).map(([name, client]) => [name, client.events(event).length]));
  }

  it("delivers to rooms on every process, exactly once per member, the publishing process included", async () => {
    const a = await join(0, "rooms-a", "r1");
    const b = await join(1, "rooms-b", "r1");
    const c = await join(2, "rooms-c", "r1");
    const d = await join(0, "rooms-d");
    const e = await join(1, "rooms-e", "r2");
    // f is in both target rooms: one delivery all the same.
    const f = await join(2, "rooms-f", "r1", "r2");
    await ask(b, "send", { to: ["r1", "r2"], event: "news", data: { n: 1 }, via: "endpoint" });
    await fence(b, [a, b, c, d, e, f]);
    expect(counts("news", { a, b, c, d, e, f })).toEqual({ a: 1, b: 1, c: 1, d: 0, e: 1, f: 1 });
    expect(f.events("news")).toEqual([{ n: 1 }]);
  });

  it("leaves the sender out of conn.to(room) and conn.broadcast on every process", async () => {
    const a = await join(0, "but-a", "r3");
    const b = await join(1, "but-b", "r3");
    const c = await join(2, "but-c", "r3");
    const d = await join(2, "but-d");
    await ask(a, "send", { to: ["r3"], event: "room-but-me", via: "connection" });
    await ask(c, "send", { event: "all-but-me", via: "broadcast" });
    await fence(a, [a, b, c, d]);
    await fence(c, [a, b, c, d]);
    expect(counts("room-but-me", { a, b, c, d })).toEqual({ a: 0, b: 1, c: 1, d: 0 });
    expect(counts("all-but-me", { a, b, c, d })).toEqual({ a: 1, b: 1, c: 0, d: 1 });
  });

  it("leaves out the members of excepted rooms on every process", async () => {
    const a = await join(0, "except-a", "muted");
    const b = await join(1, "except-b");
    const c = await join(2, "except-c", "muted");
    const d = await join(2, "except-d");
    await ask(b, "send", { except: ["muted"], event: "unmuted-only", via: "endpoint" });
    await fence(b, [a, b, c, d]);
    expect(counts("unmuted-only", { a, b, c, d })).toEqual({ a: 0, b: 1, c: 0, d: 1 });
  });

  it("sends to connection ids on other processes, once even when named twice", async () => {
    const a = await join(0, "ids-a");
    const b = await join(1, "ids-b");
    const c = await join(2, "ids-c");
    const d = await join(2, "ids-d");
    await ask(a, "send", { to: ["ids-b", "ids-c", "ids-b"], event: "direct", data: "hi", via: "endpoint" });
    await fence(a, [a, b, c, d]);
    expect(counts("direct", { a, b, c, d })).toEqual({ a: 0, b: 1, c: 1, d: 0 });
  });

  it("carries raw text and binary messages byte for byte", async () => {
    const a = await join(0, "raw-a", "raw");
    const b = await join(1, "raw-b", "raw");
    const c = await join(2, "raw-c", "raw");
    const big = Buffer.alloc(200_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    await ask(b, "raw", { to: ["raw"], text: "héllo ✓ {\"not\":\"an event\"}\n2nd line" });
    await ask(b, "raw", { to: ["raw"], hex: "00ff0a0d" });
    await ask(b, "raw", { to: ["raw"], hex: big.toString("hex") });
    await fence(b, [a, b, c]);
    for (const client of [a, b, c]) {
      expect(client.raw).toEqual(["héllo ✓ {\"not\":\"an event\"}\n2nd line", "binary:00ff0a0d", `binary:${big.toString("hex")}`]);
    }
  });

  it("answers isOnline, roomSize and getSession for connections on any process", async () => {
    const a = await join(0, "query-a", "q");
    const b = await join(1, "query-b", "q");
    await join(2, "query-c", "q", "other");
    // Presence is written in the tick after a change: ask until it is there.
    await eventually(async () => (await ask<number>(a, "roomSize", "q")) === 3, "room q to count 3");
    expect(await ask(b, "roomSize", "q")).toBe(3);
    expect(await ask(a, "roomSize", "other")).toBe(1);
    expect(await ask(a, "roomSize", "nobody-here")).toBe(0);
    expect(await ask(a, "isOnline", "query-c")).toBe(true);
    expect(await ask(a, "isOnline", "query-a")).toBe(true);
    expect(await ask(a, "isOnline", "nobody")).toBe(false);
    expect(await ask(a, "session", "query-b")).toEqual({ user: "query-b", process: "p1" });
    expect(await ask(b, "session", "query-a")).toEqual({ user: "query-a", process: "p0" });
    expect(await ask(a, "session", "nobody")).toBe(null);

    expect(await ask(b, "leave", "q")).toBe(true);
    await eventually(async () => (await ask<number>(a, "roomSize", "q")) === 2, "room q to count 2 after a leave");
    b.close();
    await eventually(async () => (await ask<boolean>(a, "isOnline", "query-b")) === false, "query-b to go offline");
    expect(await ask(a, "session", "query-b")).toBe(null);
  });

  it("acknowledged emits reach a connection on another process and bring its answer back", async () => {
    const a = await join(0, "ack-a");
    const b = await join(1, "ack-b");
    await visible(a, "ack-b");
    b.answer("double", (n) => (n as number) * 2);
    b.answer("fail", () => {
      throw Object.assign(new Error("no such thing"), { code: "E_NOPE" });
    });
    expect(await ask(a, "ask", { id: "ack-b", event: "double", data: 21 })).toEqual({ result: 42 });
    expect(await ask(a, "ask", { id: "ack-b", event: "fail" })).toEqual({ error: { name: "RemoteError", message: "no such thing", code: "E_NOPE" } });
    // The same call for a connection of the asking process takes no detour through Redis.
    a.answer("double", (n) => (n as number) * 2);
    expect(await ask(b, "ask", { id: "ack-a", event: "double", data: 5 })).toEqual({ result: 10 });
  });

  it("rejects a remote acknowledged emit on timeout, for an unknown id, and when the client leaves", async () => {
    const a = await join(0, "ack-fail-a");
    const b = await join(2, "ack-fail-b");
    await visible(a, "ack-fail-b");
    // b never answers "silence".
    const timedOut = await ask<{ error: { name: string; code: string } }>(a, "ask", { id: "ack-fail-b", event: "silence", timeout: 200 });
    expect(timedOut.error).toMatchObject({ name: "AckError", code: "ERR_WSMOUNT_ACK_TIMEOUT" });
    const unknown = await ask<{ error: { name: string; code: string } }>(a, "ask", { id: "ack-nobody", event: "x" });
    expect(unknown.error).toMatchObject({ name: "AckError", code: "ERR_WSMOUNT_DISCONNECTED" });

    const pending = ask<{ error: { name: string; code: string } }>(a, "ask", { id: "ack-fail-b", event: "silence", timeout: 0 });
    await until(() => b.received.filter((m) => m.kind === "event" && m.name === "silence").length === 2, "the second call to reach b");
    b.close();
    expect((await pending).error).toMatchObject({ name: "AckError", code: "ERR_WSMOUNT_DISCONNECTED" });
  });

  it("counts what it carried, and reports no fault in a healthy run", async () => {
    const a = await join(0, "stats-a");
    const b = await join(1, "stats-b");
    const before = await ask<{ published: number; received: number }>(b, "stats");
    await ask(a, "send", { to: ["stats-b"], event: "counted", via: "endpoint" });
    await b.waitForEvents("counted", 1);
    const after = await ask<{ connected: boolean; published: number; received: number; dropped: number; errors: number }>(b, "stats");
    expect(after.connected).toBe(true);
    expect(after.received).toBeGreaterThan(before.received);
    expect(after.dropped).toBe(0);
    expect(after.errors).toBe(0);
    expect(await ask<{ published: number }>(a, "stats")).toMatchObject({ connected: true, dropped: 0, errors: 0 });
    for (const client of [a, b]) expect(await ask(client, "brokerErrors")).toEqual([]);
  });
});
