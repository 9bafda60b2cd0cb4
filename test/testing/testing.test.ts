/**
 * `wsmount/testing` through every mounting style: the test client users get for their own tests.
 */
import { createServer, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { AckError, RemoteError, expectRefused, openTestClient, testUrl, type TestClient, type TestClientOptions } from "wsmount/testing";
import type { Connection, EndpointOptions } from "../../core/index.js";
import { deniedBody, mounts, type Mounted, type OnConnection } from "../helpers/mounts.js";

interface ServerEvents {
  "chat:message": (msg: { text: string; from: string }) => void;
  "confirm": (question: string) => boolean;
  "ask": () => number;
}

interface ClientEvents {
  "chat:send": (msg: { text: string }) => void;
  "add": (pair: [number, number]) => number;
  "fail": () => void;
}

const echo: OnConnection = (connection) => {
  connection.onMessage((data, isBinary) => connection.send(data, { binary: isBinary }));
};

describe.each(mounts)("$name", (style) => {
  let app: Mounted | undefined;
  const clients: Array<TestClient<any, any>> = [];

  async function start(onConnection: OnConnection = echo, options: EndpointOptions<any> = {}) {
    app = await style.start(options, onConnection);
    return app;
  }

  async function open(options: TestClientOptions = {}) {
    const client = await openTestClient<ServerEvents, ClientEvents>(app!.server, { path: "/echo", ...options });
    clients.push(client);
    return client;
  }

  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close();
    await app?.close();
    app = undefined;
  });

  it("echoes text and binary messages, in order, from a server or a URL", async () => {
    await start();
    const client = await open();
    client.send("one");
    client.send(Buffer.from([1, 2, 3]));
    client.send("three");
    expect(await client.nextMessage()).toBe("one");
    expect(await client.nextMessage()).toEqual(Buffer.from([1, 2, 3]));
    expect(await client.nextMessage()).toBe("three");

    const byUrl = await openTestClient(app!.url("/echo"));
    clients.push(byUrl);
    expect(byUrl.url).toBe(app!.url("/echo"));
    byUrl.send("by url");
    expect(await byUrl.nextMessage()).toBe("by url");
  });

  it("keeps messages and events the server sends at once, before any wait", async () => {
    await start((connection) => {
      connection.send("hello");
      connection.emit("chat:message", { text: "welcome", from: "server" });
    }, { welcome: true });
    const client = await open();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await client.nextEvent("chat:message")).toEqual({ text: "welcome", from: "server" });
    expect(await client.nextMessage()).toBe("hello");
    expect(client.id).toEqual(expect.any(String));
  });

  it("emits typed events and waits for events by name", async () => {
    await start((connection: Connection<any>) => {
      connection.on("chat:send", (msg: { text: string }) => {
        connection.emit("chat:message", { text: msg.text, from: "a" });
        connection.send(`raw ${msg.text}`);
      });
    });
    const client = await open();
    client.emit("chat:send", { text: "hi" });
    client.emit("chat:send", { text: "again" });
    expect(await client.nextMessage()).toBe("raw hi");
    expect(await client.nextEvent("chat:message")).toEqual({ text: "hi", from: "a" });
    expect(await client.nextEvent("chat:message")).toEqual({ text: "again", from: "a" });
    expect(await client.nextMessage()).toBe("raw again");
  });

  it("calls with an ack and rejects with the server's error", async () => {
    await start((connection: Connection<any>) => {
      connection.on("add", (pair: [number, number]) => pair[0] + pair[1]);
      connection.on("fail", () => {
        throw Object.assign(new Error("room is full"), { code: "E_FULL" });
      });
    });
    app!.endpoint.onError(() => {});
    const client = await open();
    expect(await client.call("add", [2, 3])).toBe(5);
    const error = await client.call("fail").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toMatchObject({ message: "room is full", code: "E_FULL", event: "fail" });
    const unknown = await (client as TestClient<any, any>).call("nope").catch((e: unknown) => e);
    expect(unknown).toMatchObject({ code: "ERR_WSMOUNT_UNKNOWN_EVENT" });
  });

  it("answers the server's calls with onCall, including calls made before the handler was set", async () => {
    const answers: unknown[] = [];
    await start((connection: Connection<any>) => {
      void connection.emitWithAck("ask").then((n) => answers.push(n), (e: Error) => answers.push(e.message));
      connection.on("chat:send", async () => {
        answers.push(await connection.emitWithAck("confirm", "sure?"));
        answers.push(await connection.emitWithAck("confirm", "fail").catch((e: Error) => `${e.message} ${(e as RemoteError).code}`));
      });
    });
    const client = await open();
    client.onCall("ask", () => 42);
    client.onCall("confirm", async (question) => {
      if (question === "fail") throw Object.assign(new Error("declined"), { code: "E_NO" });
      return question === "sure?";
    });
    client.emit("chat:send", { text: "go" });
    await expect.poll(() => answers.length).toBe(3);
    expect(answers).toEqual([42, true, "declined E_NO"]);
  });

  it("fails a wait when the connection closes during it, and keeps the server's error notices", async () => {
    await start((connection) => void connection.onMessage((data) => data.toString() === "close" && connection.close(4002)));
    const client = await open();
    client.send('wsm1["e"]');
    await expect.poll(() => client.protocolErrors.length).toBe(1);
    expect(client.protocolErrors[0]).toMatchObject({ name: "ProtocolError", code: "ERR_WSMOUNT_INVALID_ENVELOPE" });
    const waiting = client.nextEvent("chat:message");
    client.send("close");
    await expect(waiting).rejects.toThrow('The connection closed (code 4002) before event "chat:message"');
  });

  it("asserts close codes and reasons", async () => {
    await start((connection) => {
      connection.onMessage((data) => connection.close(4001, data.toString()));
    });
    const client = await open();
    client.send("bye");
    await expect(client.expectClose(4001, "bye")).resolves.toEqual({ code: 4001, reason: "bye" });
    expect(() => client.send("late")).toThrow(/closed \(code 4001/);
    await expect(client.nextMessage()).rejects.toThrow(/closed \(code 4001, reason "bye"\) before the next message/);

    const other = await open();
    other.send("x");
    await expect(other.expectClose(1008)).rejects.toThrow('Expected the connection to close with code 1008; it closed with code 4001, reason "x"');
  });

  it("closes from the client side", async () => {
    const reasons: unknown[] = [];
    await start((connection) => void connection.onClose((code: unknown) => void reasons.push(code)));
    const client = await open();
    expect(await client.close(4000, "done")).toEqual({ code: 4000, reason: "done" });
    await expect.poll(() => reasons.length).toBe(1);
    await expect(client.call("add", [1, 1])).rejects.toThrow(/Cannot call "add"/);
  });

  it("fails a pending call with AckError when the connection closes", async () => {
    await start((connection: Connection<any>) => void connection.on("add", () => connection.close(1011, "oops")));
    const client = await open();
    const error = await client.call("add", [1, 2]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AckError);
    expect(error).toMatchObject({ code: "ERR_WSMOUNT_DISCONNECTED" });
  });

  it("times out with an error that says what was awaited", async () => {
    await start((connection: Connection<any>) => {
      echo(connection, { user: undefined, params: {} });
      connection.on("add", () => new Promise(() => {}));
    });
    const client = await open({ timeout: 50 });
    await expect(client.nextMessage()).rejects.toThrow("Timed out after 50 ms waiting for the next message");
    await expect(client.nextEvent("chat:message", { timeout: 30 })).rejects.toThrow('Timed out after 30 ms waiting for event "chat:message"');
    await expect(client.call("add", [1, 2])).rejects.toThrow('Timed out after 50 ms waiting for the answer to call "add"');
    await expect(client.call("add", [1, 2], { timeout: 20 })).rejects.toMatchObject({ code: "ERR_WSMOUNT_ACK_TIMEOUT" });
    await expect(client.closed()).rejects.toThrow("Timed out after 50 ms waiting for the connection to close");
    client.send("still open");
    expect(await client.nextMessage({ timeout: 2_000 })).toBe("still open");
  });

  it.runIf(style.middleware)("reports a refusal by middleware with its status, headers and body", async () => {
    await start();
    const refused = await expectRefused(app!.server, { path: "/echo", headers: { "x-deny": "1" } });
    expect(refused.status).toBe(401);
    expect(refused.headers["www-authenticate"]).toBe('Bearer realm="test"');
    expect(refused.body).toBe(deniedBody);
    await expect(openTestClient(app!.server, { path: "/echo", headers: { "x-deny": "1" } })).rejects.toThrow(
      `was refused with 401: ${deniedBody}`,
    );
  });

  it("reports refusals by authenticate and the origin check, and fails expectRefused on a handshake that succeeds", async () => {
    await start(echo, { authenticate: (request) => request.headers.authorization === "Bearer ok" });
    expect(await expectRefused(app!.server, { path: "/echo" })).toMatchObject({ status: 401, body: "Unauthorized" });
    expect((await expectRefused(app!.server, { path: "/echo", headers: { origin: "https://evil.example", authorization: "Bearer ok" } })).status).toBe(403);
    await expect(expectRefused(app!.server, { path: "/echo", headers: { authorization: "Bearer ok" } })).rejects.toThrow(
      /to be refused, but it succeeded/,
    );
  });
});

describe("targets", () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
  });

  it("resolves a server listening on all interfaces to loopback, and a URL's path and query", async () => {
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "0.0.0.0", resolve));
    const { port } = server.address() as { port: number };
    expect(testUrl(server, "/chat?room=1")).toBe(`ws://127.0.0.1:${port}/chat?room=1`);
    expect(testUrl("ws://example.com:81/a?b=1", "/c")).toBe("ws://example.com:81/c");
    expect(testUrl("ws://example.com/a")).toBe("ws://example.com/a");
  });

  it("says when the server is not listening, and when nothing answers", async () => {
    expect(() => testUrl(createServer(), "/")).toThrow(/not listening/);
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = testUrl(server, "/");
    await new Promise((resolve) => server.close(resolve));
    servers.splice(0);
    await expect(openTestClient(url)).rejects.toThrow(`The connection to ${url} failed`);
  });
});
