/**
 * What many peers together, or one fast peer, can make the server do: per-connection rate limits and the
 * process-wide memory budget for outgoing buffers, through every mount.
 */
import { afterEach, describe, expect, test } from "vitest";
import type { Connection, EndpointOptions } from "../../core/index.js";
import { DEFAULT_MEMORY_BUDGET, setOutgoingMemoryBudget } from "../../core/index.js";
import { closed, handshake, nextMessage, open, rawSocket, until } from "../helpers/client.js";
import { mounts, type Mounted } from "../helpers/mounts.js";

const MiB = 1024 * 1024;

describe.each(mounts)("rate limits through $name", (mount) => {
  let server: Mounted | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });

  async function echoServer(options: EndpointOptions<any>): Promise<{ server: Mounted; errors: string[] }> {
    const errors: string[] = [];
    server = await mount.start({ pingInterval: 0, logger: false, ...options }, (connection) => {
      connection.onMessage((data) => connection.send(data));
      connection.on("ping", () => "pong");
    });
    server.endpoint.onError((error) => void errors.push((error as { code?: string }).code ?? error.message));
    return { server, errors };
  }

  test("drop: messages past the bucket are dropped and counted, a call is answered rate-limited, the error is reported once", async () => {
    const { server, errors } = await echoServer({ rateLimit: { messages: 5, interval: 60_000 } });
    const client = await open(server.url());
    for (let i = 0; i < 10; i++) client.ws.send(`m${i}`);
    client.ws.send('wsm1["c",1,"ping"]');
    const received: string[] = [];
    for (;;) {
      const text = (await nextMessage(client.ws)).data.toString();
      received.push(text);
      if (text.startsWith("wsm1")) break;
    }
    expect(received).toEqual(["m0", "m1", "m2", "m3", "m4", 'wsm1["x",1,{"message":"rate limit exceeded","code":"ERR_WSMOUNT_RATE_LIMITED"}]']);
    expect(server.endpoint.stats().messagesRateLimited).toBe(6);
    expect(errors).toEqual(["ERR_WSMOUNT_RATE_LIMITED"]);
    client.ws.close();
  });

  test("drop: an events client gets one notice per interval for dropped events", async () => {
    const { server } = await echoServer({ rateLimit: { messages: 1, interval: 60_000 } });
    const client = await open(server.url());
    client.ws.send("first");
    for (let i = 0; i < 5; i++) client.ws.send('wsm1["e","ping"]');
    expect((await nextMessage(client.ws)).data.toString()).toBe("first");
    expect((await nextMessage(client.ws)).data.toString()).toBe('wsm1["!",{"code":"ERR_WSMOUNT_RATE_LIMITED","message":"rate limit exceeded: messages dropped"}]');
    await until(() => server.endpoint.stats().messagesRateLimited === 5, "five events dropped");
    client.ws.close();
  });

  test("the byte bucket refuses a message that would pass it", async () => {
    const { server } = await echoServer({ rateLimit: { bytes: 1000, interval: 60_000 } });
    const client = await open(server.url());
    client.ws.send("a".repeat(600));
    client.ws.send("b".repeat(600));
    client.ws.send("c".repeat(300));
    expect((await nextMessage(client.ws)).data.toString()).toBe("a".repeat(600));
    expect((await nextMessage(client.ws)).data.toString()).toBe("c".repeat(300));
    expect(server.endpoint.stats().messagesRateLimited).toBe(1);
    client.ws.close();
  });

  test("the bucket refills over the interval", async () => {
    const { server } = await echoServer({ rateLimit: { messages: 2, interval: 200 } });
    const client = await open(server.url());
    for (let i = 0; i < 3; i++) client.ws.send(`burst${i}`);
    expect((await nextMessage(client.ws)).data.toString()).toBe("burst0");
    expect((await nextMessage(client.ws)).data.toString()).toBe("burst1");
    await until(() => server.endpoint.stats().messagesRateLimited === 1, "the third dropped");
    // Refilled within the interval: a later message passes (bounded poll, no fixed sleep).
    let echoed = false;
    client.ws.on("message", (data) => void (echoed ||= data.toString() === "later"));
    const deadline = Date.now() + 2_000;
    while (!echoed && Date.now() < deadline) {
      client.ws.send("later");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(echoed).toBe(true);
    client.ws.close();
  });

  test("close: past the bucket the connection is closed with 1008 and counted", async () => {
    const { server } = await echoServer({ rateLimit: { messages: 3, interval: 60_000, policy: "close" } });
    const client = await open(server.url());
    for (let i = 0; i < 10; i++) client.ws.send(`m${i}`);
    const { code } = await closed(client.ws);
    expect(code).toBe(1008);
    expect(server.endpoint.stats().closedBy.rateLimit).toBe(1);
  });
});

describe.each(mounts)("memory budget through $name", (mount) => {
  let server: Mounted | null = null;
  afterEach(async () => {
    setOutgoingMemoryBudget(DEFAULT_MEMORY_BUDGET);
    await server?.close();
    server = null;
  });

  test("past the process-wide budget the largest consumers are closed 1013 first, the others stay", async () => {
    setOutgoingMemoryBudget(24 * MiB);
    const connections: Connection[] = [];
    server = await mount.start(
      { pingInterval: 0, idleTimeout: 60_000, writeTimeout: 0, maxBufferedAmount: 64 * MiB, logger: false },
      (connection) => void connections.push(connection),
    );
    const sockets = [];
    for (let i = 0; i < 3; i++) {
      const socket = await rawSocket(server.port);
      socket.write(handshake("/echo", server.port));
      socket.pause(); // never reads: everything sent to it stays buffered
      sockets.push(socket);
      await until(() => connections.length === i + 1, "the connection");
    }
    const [large, medium, small] = connections as [Connection, Connection, Connection];
    const chunk = Buffer.alloc(MiB);
    for (let i = 0; i < 24; i++) large.send(chunk);
    for (let i = 0; i < 10; i++) medium.send(chunk);
    for (let i = 0; i < 4; i++) small.send(chunk);
    await until(() => server!.endpoint.stats().closedBy.memoryBudget > 0, "the budget to act", 5_000);
    expect(large.readyState).not.toBe(1);
    expect(medium.readyState).toBe(1);
    expect(small.readyState).toBe(1);
    expect(server.endpoint.stats().closedBy.memoryBudget).toBe(1);
    for (const socket of sockets) socket.destroy();
  });
});
