/**
 * The foundation suite: one set of behaviours, run against every mounting style with real servers
 * on loopback and real clients.
 */
import { once } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import request from "supertest";
import { HandshakeRejection, type Connection, type EndpointOptions } from "../../core/index.js";
import { deniedBody, mounts, type Mounted, type OnConnection } from "../helpers/mounts.js";
import { closed, handshake, nextMessage, open, rawSocket, readAll, refused, until } from "../helpers/client.js";

const echo: OnConnection = (connection) => {
  connection.onMessage((data, isBinary) => connection.send(data, { binary: isBinary }));
};

describe.each(mounts)("$name", (style) => {
  let app: Mounted | undefined;
  const clients: WebSocket[] = [];

  async function start(options: EndpointOptions<any> = {}, onConnection: OnConnection = echo, fixture?: { attach?: boolean }) {
    app = await style.start(options, onConnection, fixture);
    return app;
  }

  async function client(path = "/echo", protocols?: string | string[], options?: WebSocket.ClientOptions) {
    const opened = await open(app!.url(path), protocols, options);
    clients.push(opened.ws);
    return opened;
  }

  afterEach(async () => {
    for (const ws of clients.splice(0)) ws.terminate();
    await app?.close();
    app = undefined;
  });

  describe("echo", () => {
    it.each([0, 1, 125, 126, 65_535, 65_536, 1024 * 1024])("echoes %i bytes of text and of binary with their types", async (size) => {
      await start({ maxMessageSize: 2 * 1024 * 1024 });
      const { ws } = await client();
      const text = "é".repeat(Math.floor(size / 2)) + (size % 2 ? "x" : "");
      ws.send(text);
      const a = await nextMessage(ws);
      expect(a.isBinary).toBe(false);
      expect(a.data.toString()).toBe(text);
      const bytes = Buffer.alloc(size, 7);
      ws.send(bytes);
      const b = await nextMessage(ws);
      expect(b.isBinary).toBe(true);
      expect(b.data.equals(bytes)).toBe(true);
    });

    it("echoes a 16 MiB binary message under a 16 MiB limit", async () => {
      await start({ maxMessageSize: 16 * 1024 * 1024 });
      const { ws } = await client();
      const bytes = Buffer.alloc(16 * 1024 * 1024);
      for (let i = 0; i < bytes.length; i += 4096) bytes[i] = i & 0xff;
      ws.send(bytes);
      const reply = await nextMessage(ws, 15_000);
      expect(reply.data.equals(bytes)).toBe(true);
    });

    it("sends JSON and a streamed message in fragments the client receives as one", async () => {
      await start({}, (connection) => {
        connection.onMessage(() => {
          connection.sendJSON({ hello: "world" });
          const writer = connection.stream({ binary: false });
          writer.write("part one, ");
          connection.send("sent while streaming waits");
          writer.write("part two");
          writer.end();
        });
      });
      const { ws } = await client();
      const received: string[] = [];
      ws.on("message", (data: Buffer) => received.push(data.toString()));
      ws.send("go");
      await until(() => received.length === 3, "three messages");
      expect(received).toEqual(['{"hello":"world"}', "part one, part two", "sent while streaming waits"]);
    });
  });

  describe("handshake", () => {
    it("picks the subprotocol by the server's preference", async () => {
      await start({ subprotocols: ["echo.v2", "echo.v1"] });
      const { ws } = await client("/echo", ["echo.v1", "echo.v2"]);
      expect(ws.protocol).toBe("echo.v2");
    });

    it("refuses offered subprotocols of which none is supported with 400 naming the supported ones", async () => {
      await start({ subprotocols: ["echo.v2", "echo.v1"] });
      const answer = await refused(app!.url(), ["chat"]);
      expect(answer.status).toBe(400);
      expect(answer.body).toContain("echo.v2, echo.v1");
      expect(app!.endpoint.stats().handshakes.refused.subprotocol).toBe(1);
    });

    it("connects without a subprotocol when the client offers none", async () => {
      await start({ subprotocols: ["echo.v1"] });
      const { ws } = await client();
      expect(ws.protocol).toBe("");
    });

    it("negotiates permessage-deflate when enabled and compresses on the wire", async () => {
      await start({ compression: { threshold: 0 } });
      const { ws, headers } = await client();
      expect(headers["sec-websocket-extensions"]).toMatch(/^permessage-deflate/);
      const text = "compressible ".repeat(1000);
      ws.send(text);
      expect((await nextMessage(ws)).data.toString()).toBe(text);
      expect(app!.endpoint.stats().bytesIn).toBeLessThan(text.length / 4);
    });

    it("does not negotiate compression when it is off", async () => {
      await start({});
      const { headers } = await client();
      expect(headers["sec-websocket-extensions"]).toBeUndefined();
    });

    it("refuses a cross-origin request with 403 by default and accepts a same-origin one", async () => {
      await start({});
      const answer = await refused(app!.url(), undefined, { origin: "http://evil.example" });
      expect(answer.status).toBe(403);
      await client("/echo", undefined, { origin: `http://127.0.0.1:${app!.port}` });
      expect(app!.endpoint.stats().handshakes.refused.origin).toBe(1);
    });

    it("applies an origin allow-list", async () => {
      await start({ checkOrigin: ["https://app.example"] });
      await client("/echo", undefined, { origin: "https://app.example" });
      expect((await refused(app!.url(), undefined, { origin: "https://other.example" })).status).toBe(403);
    });

    it("refuses through authenticate with the status, headers and body the client sees", async () => {
      await start({
        authenticate: (req) => {
          if (req.headers.authorization !== "Bearer good") {
            throw new HandshakeRejection(401, { headers: { "WWW-Authenticate": 'Bearer error="invalid_token"' }, body: "token required" });
          }
          return { id: "user-1", data: { name: "Ada" } };
        },
      });
      const answer = await refused(app!.url());
      expect(answer.status).toBe(401);
      expect(answer.headers["www-authenticate"]).toBe('Bearer error="invalid_token"');
      expect(answer.body).toBe("token required");
      expect(answer.headers["content-length"]).toBe(String(Buffer.byteLength("token required")));
      await client("/echo", undefined, { headers: { authorization: "Bearer good" } });
      expect(app!.endpoint.getSession("user-1")).toEqual({ name: "Ada" });
    });

    it("refuses with 401 when authenticate resolves false, after an async wait", async () => {
      await start({ authenticate: async () => (await new Promise((r) => setTimeout(r, 20)), false) });
      expect((await refused(app!.url())).status).toBe(401);
      expect(app!.endpoint.stats().handshakes.refused.auth).toBe(1);
    });

    it("answers 500 and reports the error when authenticate throws", async () => {
      const errors: Error[] = [];
      await start({ authenticate: () => { throw new Error("database down"); } });
      app!.endpoint.onError((error) => void errors.push(error));
      expect((await refused(app!.url())).status).toBe(500);
      expect(errors[0]?.message).toContain("database down");
    });

    it("answers 404 for an unknown path", async () => {
      await start({});
      expect((await refused(app!.url("/nowhere"))).status).toBe(404);
    });

    it("answers 400 for a missing or malformed Sec-WebSocket-Key", async () => {
      await start({});
      for (const key of [undefined, "short", "dGhlIHNhbXBsZSBub25jZQ=", "!!!!!!!!!!!!!!!!!!!!!!=="]) {
        const socket = await rawSocket(app!.port);
        const reply = readAll(socket);
        socket.write(handshake("/echo", app!.port, { "Sec-WebSocket-Key": key }));
        const text = await reply;
        expect(text, `key ${key}`).toMatch(/^HTTP\/1\.1 400 /);
        expect(text).toContain("Sec-WebSocket-Key");
      }
      expect(app!.endpoint.size).toBe(0);
    });

    it("answers 426 with Sec-WebSocket-Version for a wrong or missing version", async () => {
      await start({});
      for (const version of ["8", "12", undefined]) {
        const socket = await rawSocket(app!.port);
        const reply = readAll(socket);
        socket.write(handshake("/echo", app!.port, { "Sec-WebSocket-Version": version }));
        const text = await reply;
        expect(text, `version ${version}`).toMatch(/^HTTP\/1\.1 426 /);
        expect(text).toMatch(/\r\nSec-WebSocket-Version: 13\r\n/i);
      }
    });

    it("answers 503 when the handshake takes longer than handshakeTimeout", async () => {
      await start({ handshakeTimeout: 100, authenticate: () => new Promise(() => {}) });
      const answer = await refused(app!.url());
      expect(answer.status).toBe(503);
      expect(answer.body).toContain("timed out");
    });

    it("answers 503 beyond maxConnections", async () => {
      await start({ maxConnections: 1 });
      await client();
      expect((await refused(app!.url())).status).toBe(503);
      expect(app!.endpoint.stats().handshakes.refused.capacity).toBe(1);
    });

    it("adds the configured headers to the 101", async () => {
      await start({ headers: (req) => ({ "X-Request-Path": req.url ?? "" }) });
      const { headers } = await client();
      expect(headers["x-request-path"]).toBe("/echo");
    });

    it("survives a client that resets during async authenticate, leaving nothing open", async () => {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let asked = 0;
      await start({ authenticate: async () => (asked++, await gate, { id: "late" }) });
      const socket = await rawSocket(app!.port);
      socket.write(handshake("/echo", app!.port));
      await until(() => asked === 1, "authenticate to be called");
      socket.resetAndDestroy();
      await once(socket, "close");
      release();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(app!.endpoint.size).toBe(0);
      expect(app!.endpoint.getConnection("late")).toBeUndefined();
      // The server still serves others.
      await client();
    });

    it("assigns a random id by default and the generateId result when given", async () => {
      await start({});
      const ids: string[] = [];
      app!.endpoint.onClose((connection) => void ids.push(connection.id));
      const a = await client();
      const b = await client();
      a.ws.close();
      b.ws.close();
      await until(() => ids.length === 2, "two closes");
      expect(ids[0]).toMatch(/^[\w-]{22}$/);
      expect(ids[0]).not.toBe(ids[1]);
      await app!.close();
      await start({ generateId: (req) => `id-${req.headers["x-n"]}` });
      await client("/echo", undefined, { headers: { "x-n": "7" } });
      expect(app!.endpoint.getConnection("id-7")).toBeDefined();
    });

    it("refuses a second connection with an id already open with 409", async () => {
      await start({ authenticate: () => ({ id: "same" }) });
      await client();
      expect((await refused(app!.url())).status).toBe(409);
    });
  });

  describe("framework integration", () => {
    it.skipIf(!style.middleware)("lets middleware refuse with its status, headers and body", async () => {
      await start({});
      const answer = await refused(app!.url(), undefined, { headers: { "x-deny": "1" } });
      expect(answer.status).toBe(401);
      expect(answer.headers["www-authenticate"]).toBe('Bearer realm="test"');
      expect(answer.body).toBe(deniedBody);
      expect(app!.endpoint.size).toBe(0);
    });

    it.skipIf(!style.middleware)("gives the handler what middleware put on the request, and forwards Set-Cookie onto the 101", async () => {
      let user: string | undefined;
      await start({}, (connection, info) => {
        user = info.user;
        return echo(connection, info);
      });
      const { headers } = await client("/echo", undefined, { headers: { "x-user": "ada" } });
      expect(user).toBe("ada");
      expect(headers["set-cookie"]).toEqual(["mw=1; Path=/"]);
    });

    it.skipIf(!style.params)("passes route parameters to the connection", async () => {
      let params: Record<string, string> = {};
      await start({}, (connection, info) => {
        params = info.params;
        expect(connection.request.params).toEqual(info.params);
      });
      await client("/rooms/lobby?x=1");
      expect(params).toEqual({ room: "lobby" });
    });

    it("keeps the request's url, address and headers on the connection, without the handshake-only headers", async () => {
      const seen: Array<Connection["request"]> = [];
      await start({ subprotocols: ["chat"] }, (connection) => {
        connection.onMessage(() => {
          seen.push(connection.request);
          connection.send("seen");
        });
      });
      const { ws } = await client("/echo?room=lobby&x=1", "chat", { headers: { "x-trace": "t-1", cookie: "sid=abc" }, perMessageDeflate: true });
      ws.send("later");
      await nextMessage(ws);
      const info = seen[0]!;
      expect(info.url).toBe("/echo?room=lobby&x=1");
      expect(info.path).toBe("/echo");
      expect(info.query).toEqual({ room: "lobby", x: "1" });
      expect(info.remoteAddress).toBe("127.0.0.1");
      expect(info.headers).toMatchObject({ host: `127.0.0.1:${new URL(app!.url()).port}`, "x-trace": "t-1", cookie: "sid=abc", "sec-websocket-protocol": "chat" });
      for (const name of ["connection", "upgrade", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions"]) {
        expect(info.headers).not.toHaveProperty(name);
      }
    });

    it.skipIf(!style.middleware)("answers a plain GET on a WebSocket route with 426", async () => {
      await start({});
      const response = await request(app!.server).get("/echo");
      expect(response.status).toBe(426);
      expect(response.headers.upgrade).toBe("websocket");
    });

    it.skipIf(style.name === "fastify" || style.name === "node")("answers 500 with a clear error when attach was forgotten", async () => {
      const errors: Error[] = [];
      await start({}, echo, { attach: false });
      app!.endpoint.onError((error) => void errors.push(error));
      const answer = await refused(app!.url());
      expect(answer.status).toBe(500);
      expect(answer.body).toContain("attach");
      expect((errors[0] as Error & { code?: string }).code).toBe("ERR_WSMOUNT_NOT_ATTACHED");
    });

    it("leaves a second 'upgrade' listener on the same server undisturbed", async () => {
      await start({});
      const other = new WebSocketServer({ noServer: true });
      app!.server.on("upgrade", (req, socket, head) => {
        if (req.url === "/other") other.handleUpgrade(req, socket, head, (ws) => ws.send("from the other listener"));
      });
      try {
        const theirs = (await open(app!.url("/other"))).ws;
        clients.push(theirs);
        expect((await nextMessage(theirs)).data.toString()).toBe("from the other listener");
        const { ws } = await client();
        ws.send("ours");
        expect((await nextMessage(ws)).data.toString()).toBe("ours");
      } finally {
        other.close();
      }
    });
  });

  describe("lifecycle", () => {
    it("delivers a message sent right after open while an async handler is still running", async () => {
      const received: string[] = [];
      await start({}, async (connection) => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        connection.onMessage((data) => void received.push(String(data)));
      });
      const { ws } = await client();
      ws.send("first");
      ws.send("second");
      await until(() => received.length === 2, "both early messages");
      expect(received).toEqual(["first", "second"]);
    });

    it("holds early messages past readBufferSize without losing any", async () => {
      const received: string[] = [];
      await start({ readBufferSize: 1024 }, async (connection) => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        connection.onMessage((data) => void received.push(String(data)));
      });
      const { ws } = await client();
      for (let i = 0; i < 200; i++) ws.send(`${i}:${"x".repeat(100)}`);
      await until(() => received.length === 200, "all 200 early messages");
      expect(received.map((m) => Number(m.split(":")[0]))).toEqual([...Array(200).keys()]);
    });

    it("closes with 1009 when a message is larger than maxMessageSize", async () => {
      await start({ maxMessageSize: 1024 });
      const { ws } = await client();
      ws.send(Buffer.alloc(1025));
      expect((await closed(ws)).code).toBe(1009);
    });

    it("closes with 1007 on invalid UTF-8 in a text message", async () => {
      const errors: Array<Error & { code?: string }> = [];
      await start({});
      app!.endpoint.onError((error) => void errors.push(error));
      const { ws } = await client();
      ws.send(Buffer.from([0xc3, 0x28]), { binary: false });
      expect((await closed(ws)).code).toBe(1007);
      await until(() => errors.length > 0, "the error report");
      expect(errors[0]!.code).toBe("WS_ERR_INVALID_UTF8");
    });

    it("terminates a peer that does not answer pings, reporting why", async () => {
      const closes: Array<[number, string]> = [];
      await start({ pingInterval: 50, pongTimeout: 100 });
      app!.endpoint.onClose((_connection, code, reason) => void closes.push([code, reason]));
      const { ws } = await client("/echo", undefined, { autoPong: false });
      await closed(ws);
      await until(() => closes.length === 1, "the server-side close");
      expect(closes[0]![0]).toBe(1006);
      expect(closes[0]![1]).toMatch(/no pong within 100 ms/);
      expect(app!.endpoint.stats().closedBy.pongTimeout).toBe(1);
    });

    it("keeps a peer that answers pings", async () => {
      let pongs = 0;
      await start({ pingInterval: 30, pongTimeout: 60 }, (connection) => void connection.onPong(() => void pongs++));
      const { ws } = await client();
      await until(() => pongs >= 4, "four pongs");
      expect(ws.readyState).toBe(WebSocket.OPEN);
    });

    it("closes an idle connection with 1001 after idleTimeout, not an active one", async () => {
      await start({ idleTimeout: 150, pingInterval: 0 });
      const idle = await client();
      const active = await client();
      const ticker = setInterval(() => active.ws.send("x"), 30);
      try {
        const result = await closed(idle.ws);
        expect(result.code).toBe(1001);
        expect(result.reason).toContain("idle");
        expect(active.ws.readyState).toBe(WebSocket.OPEN);
      } finally {
        clearInterval(ticker);
      }
    });

    it("calls connection and endpoint close handlers with the code and reason", async () => {
      const seen: string[] = [];
      await start({}, (connection) => void connection.onClose((code, reason) => void seen.push(`conn ${code} ${reason}`)));
      app!.endpoint.onClose((_c, code, reason) => void seen.push(`endpoint ${code} ${reason}`));
      const { ws } = await client();
      ws.close(4001, "bye");
      await until(() => seen.length === 2, "both close handlers");
      expect(seen).toEqual(["conn 4001 bye", "endpoint 4001 bye"]);
      expect(app!.endpoint.size).toBe(0);
    });

    it("reports a throwing message handler to the error handler and keeps serving", async () => {
      const errors: Error[] = [];
      await start({}, (connection) => {
        connection.onMessage((data) => {
          if (String(data) === "boom") throw new Error("handler exploded");
          connection.send(data);
        });
      });
      app!.endpoint.onError((error) => void errors.push(error));
      const { ws } = await client();
      ws.send("boom");
      ws.send("still here");
      expect((await nextMessage(ws)).data.toString()).toBe("still here");
      expect(errors[0]?.message).toContain("handler exploded");
    });

    it("closes with 1011 when the connection handler throws", async () => {
      await start({}, () => {
        throw new Error("setup failed");
      });
      app!.endpoint.onError(() => {});
      const { ws } = await client();
      expect((await closed(ws)).code).toBe(1011);
    });

    it("finds sessions by id and updates them", async () => {
      await start({ authenticate: (req) => ({ id: String(req.headers["x-id"]), data: { role: "guest", n: 1 } }) });
      await client("/echo", undefined, { headers: { "x-id": "u1" } });
      const endpoint = app!.endpoint;
      expect(endpoint.getSession("u1")).toEqual({ role: "guest", n: 1 });
      expect(endpoint.updateSession("u1", { role: "admin" })).toBe(true);
      expect(endpoint.getSession("u1")).toEqual({ role: "admin", n: 1 });
      expect(endpoint.getConnection("u1")?.data).toEqual({ role: "admin", n: 1 });
      expect(endpoint.updateSession("nobody", {})).toBe(false);
    });

    it("counts messages, bytes and handshakes in stats", async () => {
      await start({});
      const { ws } = await client();
      ws.send("hello");
      await nextMessage(ws);
      const stats = app!.endpoint.stats();
      expect(stats.connections).toBe(1);
      expect(stats.handshakes.accepted).toBe(1);
      expect(stats.messagesIn).toBe(1);
      expect(stats.messagesOut).toBe(1);
      expect(stats.bytesIn).toBeGreaterThan(5);
      expect(stats.bytesOut).toBeGreaterThan(5);
    });
  });

  describe("slow consumers", () => {
    it("drops messages over maxBufferedAmount with the drop policy, counting them", async () => {
      let connection!: Connection;
      await start({ backpressure: "drop", writeBufferSize: 1024, maxMessageSize: 64 * 1024, maxBufferedAmount: 64 * 1024, writeTimeout: 0 }, (c) => void (connection = c));
      const socket = await rawSocket(app!.port);
      socket.write(handshake("/echo", app!.port));
      await until(() => connection !== undefined, "the connection");
      socket.pause();
      const chunk = Buffer.alloc(64 * 1024);
      const results: boolean[] = [];
      for (let i = 0; i < 200 && connection.readyState === 1; i++) results.push(connection.send(chunk));
      // The kernel takes the first sends; once the user-space buffer passes the limits, sends report false.
      expect(results.filter((sent) => !sent).length).toBeGreaterThan(0);
      expect(app!.endpoint.stats().messagesDropped).toBeGreaterThan(0);
      expect(app!.endpoint.stats().messagesDropped).toBeLessThan(200);
      expect(connection.readyState).toBe(1);
      socket.destroy();
    });

    it("closes a slow consumer with 1013 with the close policy", async () => {
      let connection!: Connection;
      await start({ backpressure: "close", maxMessageSize: 64 * 1024, maxBufferedAmount: 64 * 1024, writeBufferSize: 1024, writeTimeout: 0 }, (c) => void (connection = c));
      app!.endpoint.onError(() => {});
      const socket = await rawSocket(app!.port);
      socket.write(handshake("/echo", app!.port));
      await until(() => connection !== undefined, "the connection");
      socket.pause();
      const chunk = Buffer.alloc(64 * 1024);
      for (let i = 0; i < 500 && connection.readyState === 1; i++) connection.send(chunk);
      expect(connection.readyState).toBeGreaterThanOrEqual(2);
      expect(app!.endpoint.stats().closedBy.backpressure).toBe(1);
      socket.destroy();
    });

    it("terminates a consumer that stops reading after writeTimeout", async () => {
      let connection!: Connection;
      const closes: string[] = [];
      await start({ writeTimeout: 150, maxBufferedAmount: 64 * 1024 * 1024 }, (c) => void (connection = c));
      app!.endpoint.onClose((_c, _code, reason) => void closes.push(reason));
      const socket = await rawSocket(app!.port);
      socket.write(handshake("/echo", app!.port));
      await until(() => connection !== undefined, "the connection");
      socket.pause();
      const chunk = Buffer.alloc(256 * 1024);
      for (let i = 0; i < 64; i++) connection.send(chunk);
      await until(() => closes.length === 1, "the write timeout", 5000);
      expect(closes[0]).toContain("write timeout");
      expect(app!.endpoint.stats().closedBy.writeTimeout).toBe(1);
      socket.destroy();
    });
  });

  describe("graceful shutdown", () => {
    it("closes open connections with 1001, waits for them, then refuses new upgrades", async () => {
      const mountedApp = await start({});
      const a = await client();
      const b = await client();
      const closes = [closed(a.ws), closed(b.ws)];
      await mountedApp.endpoint.close({ timeout: 2000 });
      for (const result of await Promise.all(closes)) expect(result.code).toBe(1001);
      expect(mountedApp.endpoint.size).toBe(0);
      const again = mountedApp.endpoint.close();
      expect(again).toBe(mountedApp.endpoint.close());
      await again;
    });

    it("terminates connections that do not finish the closing handshake within the timeout", async () => {
      const mountedApp = await start({});
      const socket = await rawSocket(mountedApp.port);
      socket.write(handshake("/echo", mountedApp.port));
      await until(() => mountedApp.endpoint.size === 1, "the raw connection");
      const startedAt = Date.now();
      await mountedApp.endpoint.close({ timeout: 200 });
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(150);
      expect(mountedApp.endpoint.size).toBe(0);
      socket.destroy();
    });

    it("answers upgrades during shutdown with 503", async () => {
      const mountedApp = await start({});
      const socket = await rawSocket(mountedApp.port);
      socket.write(handshake("/echo", mountedApp.port));
      await until(() => mountedApp.endpoint.size === 1, "the raw connection");
      const closing = mountedApp.endpoint.close({ timeout: 300 });
      const answer = await refused(mountedApp.url());
      expect(answer.status).toBe(503);
      await closing;
      socket.destroy();
    });
  });
});
