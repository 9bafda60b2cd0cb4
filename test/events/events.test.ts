/**
 * Events, acknowledgements, rooms, targets and sessions through every mounting style, with real
 * clients speaking the events protocol.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import * as ws from "ws";
import { AckError, RemoteError, type Connection, type EndpointOptions } from "../../core/index.js";
import { ProtocolClient } from "../helpers/protocol-client.js";
import { mounts, type Mounted, type OnConnection } from "../helpers/mounts.js";
import { nextMessage, until } from "../helpers/client.js";

describe.each(mounts)("$name", (style) => {
  let app: Mounted | undefined;
  const clients: ProtocolClient[] = [];
  const connections: Connection<any>[] = [];

  async function start(options: EndpointOptions<any> = {}, onConnection: OnConnection = () => {}) {
    app = await style.start(options, (connection, info) => {
      connections.push(connection);
      return onConnection(connection, info);
    });
    return app;
  }

  async function connect(headers?: Record<string, string>) {
    const client = await ProtocolClient.connect(app!.url(), headers);
    clients.push(client);
    await until(() => connections.length >= clients.length, "the server side of the connection");
    return client;
  }

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    connections.splice(0);
    await app?.close();
    app = undefined;
  });

  describe("events", () => {
    it("delivers every JSON data type, and no data, to the handler", async () => {
      const seen: unknown[] = [];
      await start({}, (conn) => void conn.on("data", (data: unknown) => void seen.push(data)));
      const client = await connect();
      const values = ["text", 42, 1.5, true, false, null, { a: [1, { b: "c" }] }, [1, "two", null], undefined];
      for (const value of values) client.emit("data", value);
      await until(() => seen.length === values.length, "all events");
      expect(seen).toEqual(values);
    });

    it("emits events from the server to the client", async () => {
      await start({}, (conn) => void conn.emit("hello", { to: conn.id }));
      const client = await connect();
      const [data] = await client.waitForEvents("hello", 1);
      expect(data).toEqual({ to: connections[0]!.id });
    });

    it("answers a call with the handler's return value, sync or async", async () => {
      await start({}, (conn) => {
        conn.on("add", (pair: [number, number]) => pair[0] + pair[1]);
        conn.on("later", async (text: string) => (await new Promise((r) => setTimeout(r, 10)), text.toUpperCase()));
        conn.on("nothing", () => undefined);
      });
      const client = await connect();
      expect(await client.call("add", [2, 3])).toMatchObject({ kind: "ack", result: 5 });
      expect(await client.call("later", "abc")).toMatchObject({ kind: "ack", result: "ABC" });
      expect(await client.call("nothing")).toMatchObject({ kind: "ack", result: undefined });
    });

    it("answers a throwing handler with its message and code but not its stack, and reports it", async () => {
      const errors: Error[] = [];
      await start({}, (conn) => {
        conn.on("fail", () => {
          throw Object.assign(new Error("room is full"), { code: "E_FULL", secret: "internal" });
        });
        conn.on("reject", async () => Promise.reject(new Error("async failure")));
      });
      app!.endpoint.onError((error) => void errors.push(error));
      const client = await connect();
      const answer = await client.call("fail");
      expect(answer).toEqual({ kind: "ackError", ackId: expect.any(Number), error: { message: "room is full", code: "E_FULL" } });
      expect(JSON.stringify(answer)).not.toContain("at ");
      expect(JSON.stringify(answer)).not.toContain("internal");
      expect(await client.call("reject")).toMatchObject({ kind: "ackError", error: { message: "async failure" } });
      expect(errors.map((e) => (e as { code?: string }).code)).toEqual(["ERR_WSMOUNT_HANDLER_FAILED", "ERR_WSMOUNT_HANDLER_FAILED"]);
    });

    it("answers a call for an unknown event with ERR_WSMOUNT_UNKNOWN_EVENT and drops an unknown plain event", async () => {
      const errors: Error[] = [];
      await start({});
      app!.endpoint.onError((error) => void errors.push(error));
      const client = await connect();
      client.emit("nobody-listens", 1);
      expect(await client.call("nobody-listens", 1)).toMatchObject({ kind: "ackError", error: { code: "ERR_WSMOUNT_UNKNOWN_EVENT" } });
      expect(errors).toHaveLength(1);
    });

    it("answers malformed envelopes with an error notice, reports them and keeps the connection and others working", async () => {
      const errors: Error[] = [];
      await start({}, (conn) => void conn.on("echo", (data: unknown) => data));
      app!.endpoint.onError((error) => void errors.push(error));
      const bad = await connect();
      const good = await connect();
      for (const text of ["wsm1{not json", "wsm1[]", 'wsm1["e"]', 'wsm1["q",1]', 'wsm1["e","bad name"]', "wsm7[]"]) bad.ws.send(text);
      await until(() => bad.received.filter((m) => m.kind === "error").length === 6, "six error notices");
      expect(bad.received.map((m) => (m as { code?: string }).code)).toEqual([
        ...Array(5).fill("ERR_WSMOUNT_INVALID_ENVELOPE"),
        "ERR_WSMOUNT_UNSUPPORTED_VERSION",
      ]);
      expect(errors).toHaveLength(6);
      expect(await bad.call("echo", "still fine")).toMatchObject({ kind: "ack", result: "still fine" });
      expect(await good.call("echo", 7)).toMatchObject({ kind: "ack", result: 7 });
    });

    it("keeps raw messages working beside events on the same connection", async () => {
      await start({}, (conn) => {
        conn.onMessage((data) => void conn.send(`raw:${String(data)}`));
        conn.on("ev", (data: string) => void conn.emit("ev-back", data));
      });
      const client = await connect();
      client.ws.send("plain text");
      client.ws.send('{"type":"json but raw"}');
      client.emit("ev", "x");
      await until(() => client.raw.length === 2 && client.events("ev-back").length === 1, "both kinds of answers");
      expect(client.raw).toEqual(["raw:plain text", 'raw:{"type":"json but raw"}']);
    });

    it("waits for the client's acknowledgement of a server call, with result, remote error and timeout", async () => {
      await start({ ackTimeout: 200 });
      const client = await connect();
      client.answer("double", (n) => (n as number) * 2);
      client.answer("refuse", () => {
        throw Object.assign(new Error("no thanks"), { code: "E_NO" });
      });
      const conn = connections[0]!;
      expect(await conn.emitWithAck("double", 21)).toBe(42);
      const remote = await conn.emitWithAck("refuse").catch((error: unknown) => error);
      expect(remote).toBeInstanceOf(RemoteError);
      expect(remote).toMatchObject({ message: "no thanks", code: "E_NO" });
      const timedOut = await conn.emitWithAck("silence", 1).catch((error: unknown) => error);
      expect(timedOut).toBeInstanceOf(AckError);
      expect((timedOut as AckError).code).toBe("ERR_WSMOUNT_ACK_TIMEOUT");
      const quick = await conn.emitWithAck("silence", 1, { timeout: 20 }).catch((error: unknown) => error);
      expect((quick as AckError).code).toBe("ERR_WSMOUNT_ACK_TIMEOUT");
    });

    it("rejects calls still waiting when the connection closes", async () => {
      await start({ ackTimeout: 0 });
      const client = await connect();
      const pending = connections[0]!.emitWithAck("never").catch((error: unknown) => error);
      await client.waitForEvents("never", 1);
      client.close();
      const error = await pending;
      expect(error).toBeInstanceOf(AckError);
      expect((error as AckError).code).toBe("ERR_WSMOUNT_DISCONNECTED");
    });

    it("sends the connection id first when welcome is on", async () => {
      await start({ welcome: true, generateId: () => "id-123" });
      const client = await connect();
      await until(() => client.received.length === 1, "the welcome");
      expect(client.received[0]).toEqual({ kind: "welcome", id: "id-123" });
    });
  });

  describe("rooms and targets", () => {
    async function roomFixture() {
      await start({}, (conn) => {
        conn.on("join", (room: string) => (conn.join(room), conn.rooms.size));
        conn.on("leave", (room: string) => conn.leave(room));
        conn.on("say", (msg: { room: string; text: string }) => void conn.to(msg.room).emit("said", msg.text));
      });
      const [a, b, c] = [await connect(), await connect(), await connect()];
      return { a, b, c, conns: connections.slice(0, 3) };
    }

    it("joins and leaves rooms, with members, counts and room events", async () => {
      const events: string[] = [];
      const { a, b, conns } = await roomFixture();
      app!.endpoint.onRoomCreated((room) => void events.push(`created ${room}`));
      app!.endpoint.onRoomEmptied((room) => void events.push(`emptied ${room}`));
      expect(await a.call("join", "lobby")).toMatchObject({ result: 1 });
      expect(await b.call("join", "lobby")).toMatchObject({ result: 1 });
      expect(await a.call("join", "games")).toMatchObject({ result: 2 });
      const endpoint = app!.endpoint;
      expect(endpoint.roomSize("lobby")).toBe(2);
      expect(endpoint.members("lobby").map((c) => c.id).sort()).toEqual([conns[0]!.id, conns[1]!.id].sort());
      expect([...conns[0]!.rooms].sort()).toEqual(["games", "lobby"]);
      expect(await a.call("leave", "games")).toMatchObject({ result: true });
      expect(await a.call("leave", "games")).toMatchObject({ result: false });
      expect(endpoint.roomNames()).toEqual(["lobby"]);
      expect(events).toEqual(["created lobby", "created games", "emptied games"]);
    });

    it("leaves every room on disconnect, after close handlers have seen them", async () => {
      const { a, b, conns } = await roomFixture();
      let roomsAtClose: string[] = [];
      conns[0]!.onClose(() => void (roomsAtClose = [...conns[0]!.rooms]));
      await a.call("join", "lobby");
      await b.call("join", "lobby");
      a.close();
      await until(() => app!.endpoint.roomSize("lobby") === 1, "a to leave the lobby");
      expect(roomsAtClose).toEqual(["lobby"]);
      expect(conns[0]!.rooms.size).toBe(0);
    });

    it("sends to a room without the sender (conn.to), and with it (endpoint.to)", async () => {
      const { a, b, c } = await roomFixture();
      await a.call("join", "lobby");
      await b.call("join", "lobby");
      a.emit("say", { room: "lobby", text: "hi" });
      expect(await b.waitForEvents("said", 1)).toEqual(["hi"]);
      app!.endpoint.to("lobby").emit("notice", "all of lobby");
      await a.waitForEvents("notice", 1);
      await b.waitForEvents("notice", 1);
      await new Promise((r) => setTimeout(r, 50));
      expect(a.events("said")).toEqual([]);
      expect(c.events("said")).toEqual([]);
      expect(c.events("notice")).toEqual([]);
    });

    it("targets a connection by id, several targets at once, everyone, everyone but one, with exclusions", async () => {
      const { a, b, c, conns } = await roomFixture();
      const [ca, cb, cc] = conns as [Connection, Connection, Connection];
      await b.call("join", "blue");
      const endpoint = app!.endpoint;
      endpoint.to(ca.id).emit("m", "to a");
      endpoint.to(ca.id, "blue").emit("m", "to a and blue");
      endpoint.to([cc.id, "blue"]).emit("m", "to c and blue");
      endpoint.all().emit("m", "to all");
      endpoint.emit("m", "to all again");
      ca.broadcast.emit("m", "all but a");
      endpoint.except("blue").emit("m", "all but blue");
      endpoint.to("blue", ca.id, cc.id).except(cc.id).emit("m", "a and blue but not c");
      await until(() => c.events("m").length === 5, "c's messages");
      await until(() => a.events("m").length === 6 && b.events("m").length === 6, "a's and b's messages");
      expect(a.events("m")).toEqual(["to a", "to a and blue", "to all", "to all again", "all but blue", "a and blue but not c"]);
      expect(b.events("m")).toEqual(["to a and blue", "to c and blue", "to all", "to all again", "all but a", "a and blue but not c"]);
      expect(c.events("m")).toEqual(["to c and blue", "to all", "to all again", "all but a", "all but blue"]);
      expect(cb.rooms.has("blue")).toBe(true);
    });

    it("sends raw messages, text and binary, to rooms", async () => {
      const { a, b, conns } = await roomFixture();
      await a.call("join", "raw");
      app!.endpoint.to("raw").send("raw text");
      app!.endpoint.to("raw").send(Buffer.from([1, 2, 3]));
      await until(() => a.raw.length === 2, "two raw messages");
      expect(a.raw).toEqual(["raw text", "binary:010203"]);
      expect(b.raw).toEqual([]);
      expect(conns[0]!.rooms.has("raw")).toBe(true);
    });
  });

  describe("fan-out cost", () => {
    it("serializes and frames a broadcast once for all recipients", async () => {
      await start({});
      const receivers = await Promise.all(Array.from({ length: 20 }, () => connect()));
      const Sender = (ws as unknown as { Sender: { frame: (...args: unknown[]) => unknown } }).Sender;
      const frames = vi.spyOn(Sender, "frame");
      const stringify = vi.spyOn(JSON, "stringify");
      try {
        app!.endpoint.emit("tick", { n: 1, text: "same for everyone" });
        expect(stringify).toHaveBeenCalledTimes(1);
        expect(frames).toHaveBeenCalledTimes(1);
      } finally {
        frames.mockRestore();
        stringify.mockRestore();
      }
      for (const receiver of receivers) expect(await receiver.waitForEvents("tick", 1)).toEqual([{ n: 1, text: "same for everyone" }]);
      expect(app!.endpoint.stats().messagesOut).toBe(20);
    });

    it("compresses a broadcast once for every recipient without context takeover", async () => {
      await start({ compression: { threshold: 0, serverNoContextTakeover: true } });
      const receivers = await Promise.all(Array.from({ length: 10 }, () => connect()));
      const Sender = (ws as unknown as { Sender: { frame: (...args: unknown[]) => unknown } }).Sender;
      const frames = vi.spyOn(Sender, "frame");
      const text = "compressible payload ".repeat(50);
      const before = app!.endpoint.stats().bytesOut;
      try {
        app!.endpoint.all().send(text);
        expect(frames).toHaveBeenCalledTimes(1);
        expect((frames.mock.calls[0]![1] as { rsv1: boolean }).rsv1).toBe(true);
      } finally {
        frames.mockRestore();
      }
      for (const receiver of receivers) await until(() => receiver.raw[0] === text, "the decompressed text");
      expect(app!.endpoint.stats().bytesOut - before).toBeLessThan((text.length * 10) / 4);
    });

    it("falls back to per-connection compression when the context carries over", async () => {
      await start({ compression: { threshold: 0 } });
      const receivers = await Promise.all(Array.from({ length: 3 }, () => connect()));
      const text = "context takeover ".repeat(40);
      app!.endpoint.all().send(text);
      app!.endpoint.all().send(text);
      for (const receiver of receivers) await until(() => receiver.raw.length === 2 && receiver.raw.every((m) => m === text), "two messages");
    });
  });

  describe("sessions", () => {
    it("uses the id and data from authenticate and finds the connection by id", async () => {
      await start({ authenticate: (req) => ({ id: `user:${req.headers["x-name"]}`, data: { name: req.headers["x-name"], score: 0 } }) }, (conn) => {
        conn.on("whoami", () => conn.data);
      });
      const ada = await connect({ "x-name": "ada" });
      expect(await ada.call("whoami")).toMatchObject({ result: { name: "ada", score: 0 } });
      const endpoint = app!.endpoint;
      endpoint.updateSession("user:ada", { score: 5 });
      expect(await ada.call("whoami")).toMatchObject({ result: { name: "ada", score: 5 } });
      endpoint.getConnection("user:ada")!.emit("direct", "found by id");
      expect(await ada.waitForEvents("direct", 1)).toEqual(["found by id"]);
    });
  });
});

it("keeps a raw binary message as raw even when it starts with the envelope prefix", async () => {
  const app = await mounts[3]!.start({}, (conn) => conn.onMessage((data, isBinary) => void conn.send(isBinary ? "binary" : "text")));
  try {
    const client = await ProtocolClient.connect(app.url());
    client.ws.send(Buffer.from("wsm1[not an envelope"));
    expect((await nextMessage(client.ws)).data.toString()).toBe("binary");
    client.close();
  } finally {
    await app.close();
  }
});
