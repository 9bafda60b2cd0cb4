import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { connect, type ClientOptions, type ClientState, type RetryInfo, type WsmountClient } from "../../client/index.js";
import { startTestServer, type TestServer, waitUntil } from "./test-server.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Observed {
  client: WsmountClient;
  states: Array<{ state: ClientState; retry: RetryInfo | undefined }>;
  disconnects: Array<[number, string]>;
}

function observe(url: string, options: ClientOptions): Observed {
  const client = connect(url, { WebSocket, ...options });
  cleanups.push(() => client.close());
  const observed: Observed = { client, states: [], disconnects: [] };
  client.onStateChange((state, retry) => observed.states.push({ state, retry }));
  client.onDisconnect((code, reason) => observed.disconnects.push([code, reason]));
  return observed;
}

/** A server that was started and stopped: its port refuses connections until `start()`. */
async function stoppedServer(): Promise<TestServer> {
  const server = await startTestServer();
  cleanups.push(() => server.stop());
  await server.stop();
  return server;
}

const reconnect = { initialDelay: 10, maxDelay: 80, factor: 2, jitter: 0.5 };

describe("client: reconnection", () => {
  it("reconnects after the server restarts on the same port, with growing, bounded, jittered delays", async () => {
    const server = await startTestServer();
    cleanups.push(() => server.stop());
    const { client, states, disconnects } = observe(server.url, { reconnect });
    await waitUntil(() => client.state === "open", "first open");
    await server.stop();
    await waitUntil(() => states.filter((s) => s.state === "reconnecting").length >= 6, "six failed attempts");
    const port = server.port;
    await server.start();
    expect(server.port).toBe(port);
    await waitUntil(() => client.state === "open", "reopen after restart");

    expect(disconnects).toEqual([[1006, ""]]);
    const retries = states.filter((s) => s.state === "reconnecting").map((s) => s.retry!);
    retries.forEach((retry, index) => {
      expect(retry.attempt).toBe(index + 1);
      const capped = Math.min(reconnect.maxDelay, reconnect.initialDelay * reconnect.factor ** index);
      expect(retry.delay).toBeGreaterThanOrEqual(Math.floor(capped * (1 - reconnect.jitter)));
      expect(retry.delay).toBeLessThanOrEqual(capped);
    });
    // Every attempt is announced: reconnecting then connecting, until the open.
    const sequence = states.map((s) => s.state);
    expect(sequence[0]).toBe("open");
    expect(sequence.at(-1)).toBe("open");
    for (let i = 1; i < sequence.length - 1; i += 2) {
      expect([sequence[i], sequence[i + 1]]).toEqual(["reconnecting", "connecting"]);
    }

    // A successful connection resets the backoff: the next loss starts again at attempt 1.
    states.length = 0;
    await server.stop();
    await waitUntil(() => states.some((s) => s.state === "reconnecting"), "next loss");
    expect(states.find((s) => s.state === "reconnecting")?.retry?.attempt).toBe(1);
  });

  it("flushes events queued while disconnected on reconnect, in order, and their calls get answered", async () => {
    const server = await startTestServer();
    cleanups.push(() => server.stop());
    server.on("sum", (data) => (data as number[]).reduce((a, b) => a + b, 0));
    const { client } = observe(server.url, { reconnect });
    await waitUntil(() => client.state === "open", "open");
    client.emit("before", 0);
    await waitUntil(() => server.events.length === 1, "first event");
    await server.stop();
    await waitUntil(() => client.state === "reconnecting", "disconnected");
    expect(client.emit("offline", 1)).toBe(true);
    const answer = client.emitWithAck("sum", [1, 2], { timeout: 0 });
    expect(client.emit("offline", 2)).toBe(true);
    await server.start();
    await expect(answer).resolves.toBe(3);
    await waitUntil(() => server.events.length === 4, "the queued events");
    expect(server.events.map((e) => [e.name, e.data])).toEqual([
      ["before", 0],
      ["offline", 1],
      ["sum", [1, 2]],
      ["offline", 2],
    ]);
    expect(server.connections).toBe(2);
  });

  it("refuses the newest events once the queue is full, and sends exactly the queued ones", async () => {
    const server = await stoppedServer();
    const { client } = observe(server.url, { reconnect, queueSize: 3 });
    const results = [1, 2, 3, 4, 5].map((n) => client.emit("n", n));
    expect(results).toEqual([true, true, true, false, false]);
    await expect(client.emitWithAck("n", 6)).rejects.toMatchObject({ name: "AckError", code: "ERR_WSMOUNT_QUEUE_FULL" });
    await server.start();
    await waitUntil(() => client.state === "open", "open");
    await waitUntil(() => server.events.length === 3, "the queued events");
    expect(server.events.map((e) => e.data)).toEqual([1, 2, 3]);
    expect(client.emit("n", 7)).toBe(true);
    await waitUntil(() => server.events.length === 4, "a live event");
  });

  it("queues nothing with queueSize 0", async () => {
    const server = await stoppedServer();
    const { client } = observe(server.url, { reconnect, queueSize: 0 });
    expect(client.emit("x")).toBe(false);
    await expect(client.emitWithAck("x")).rejects.toMatchObject({ code: "ERR_WSMOUNT_QUEUE_FULL" });
  });

  it("drops a queued call from the queue when it times out while offline", async () => {
    const server = await stoppedServer();
    const { client } = observe(server.url, { reconnect });
    await expect(client.emitWithAck("stale", 1, { timeout: 20 })).rejects.toMatchObject({ code: "ERR_WSMOUNT_ACK_TIMEOUT" });
    client.emit("fresh", 2);
    await server.start();
    await waitUntil(() => server.events.length === 1, "the fresh event");
    expect(server.events.map((e) => e.name)).toEqual(["fresh"]);
  });

  it("stops reconnecting on close()", async () => {
    const server = await startTestServer();
    cleanups.push(() => server.stop());
    const { client, states } = observe(server.url, { reconnect: { initialDelay: 5, maxDelay: 5 } });
    await waitUntil(() => client.state === "open", "open");
    await server.stop();
    await waitUntil(() => states.filter((s) => s.state === "reconnecting").length >= 2, "two attempts");
    client.close();
    expect(client.state).toBe("closed");
    const count = states.length;
    await server.start();
    // Far longer than the 5 ms backoff: a client still retrying would have connected by now.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(server.connections).toBe(1);
    expect(states.length).toBe(count);
    expect(states.at(-1)?.state).toBe("closed");
  });

  it("gives up after maxAttempts, closing and failing queued calls with ERR_WSMOUNT_CLOSED", async () => {
    const server = await stoppedServer();
    const { client, states } = observe(server.url, { reconnect: { initialDelay: 5, maxAttempts: 2 } });
    const queued = client.emitWithAck("x", 1, { timeout: 0 });
    await expect(queued).rejects.toMatchObject({ code: "ERR_WSMOUNT_CLOSED" });
    expect(client.state).toBe("closed");
    expect(states.map((s) => s.state)).toEqual(["reconnecting", "connecting", "reconnecting", "connecting", "closed"]);
    expect(client.emit("x")).toBe(false);
  });

  it("does not reconnect with reconnect: false", async () => {
    const server = await startTestServer();
    cleanups.push(() => server.stop());
    const { client, states, disconnects } = observe(server.url, { reconnect: false });
    await waitUntil(() => client.state === "open", "open");
    for (const socket of server.sockets) socket.close(1001, "going away");
    await waitUntil(() => client.state === "closed", "closed");
    expect(disconnects).toEqual([[1001, "going away"]]);
    expect(states.map((s) => s.state)).toEqual(["open", "closed"]);
  });

  it("reconnects after a clean server close (1001) and reports code and reason", async () => {
    const server = await startTestServer({ welcomeId: "c" });
    cleanups.push(() => server.stop());
    const { client, disconnects } = observe(server.url, { reconnect });
    await waitUntil(() => client.id === "c-1", "first id");
    for (const socket of server.sockets) socket.close(1001, "restarting");
    await waitUntil(() => client.id === "c-2", "second connection's id");
    expect(disconnects).toEqual([[1001, "restarting"]]);
  });
});

describe("client: edges of a connection", () => {
  it("queues an event emitted while the socket is closing, and sends it on the next connection", async () => {
    const server = await startTestServer();
    cleanups.push(() => server.stop());
    const { client } = observe(server.url, { reconnect });
    await waitUntil(() => client.state === "open", "open");
    const [socket] = server.sockets;
    // A close frame written under ws's feet, with the server's reading paused: the client answers it and then
    // stays in CLOSING (still "open" for its listeners) until the TCP connection ends.
    const tcp = (socket as unknown as { _socket: import("node:net").Socket })._socket;
    tcp.pause();
    tcp.write(Buffer.from([0x88, 0x00]));
    await waitUntil(() => !client.send("probe"), "the socket to be closing");
    expect(client.state).toBe("open");
    expect(client.emit("while-closing", 1)).toBe(true);
    tcp.destroy();
    await waitUntil(() => server.events.length === 1, "the event on the next connection");
    expect(server.events[0]).toMatchObject({ name: "while-closing", data: 1 });
    expect(server.connections).toBe(2);
  });

  it("keeps working when a listener throws: the error goes to onError, other listeners still run", async () => {
    const server = await startTestServer();
    cleanups.push(() => server.stop());
    const { client } = observe(server.url, { reconnect });
    const errors: unknown[] = [];
    let connected = 0;
    client.onError((error) => errors.push(error));
    client.onConnect(() => {
      throw new Error("bad listener");
    });
    client.onConnect(() => connected++);
    await waitUntil(() => connected === 1, "the second listener");
    expect(client.state).toBe("open");
    expect(errors).toEqual([new Error("bad listener")]);
    client.emit("still-works");
    await waitUntil(() => server.events.length === 1, "an event");
  });
});
