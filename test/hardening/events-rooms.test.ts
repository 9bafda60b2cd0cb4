/**
 * Nothing a client sends can take the server down: room listeners and event handlers that throw or
 * reject, sync and async, through every mounting style, leave the process up, the error reported with
 * its connection and the state clean; and what one peer can make the server keep is bounded.
 */
import { afterEach, describe, expect, it } from "vitest";
import { AckError, ErrorCode, createEndpoint, memoryBroker, type Broker, type Connection, type EndpointOptions } from "../../core/index.js";
import { EventState, type EventPeer } from "../../core/events.js";
import { Rooms, type RoomMember } from "../../core/rooms.js";
import { AckErrorCode, encodeAck } from "../../core/protocol/index.js";
import { ProtocolClient } from "../helpers/protocol-client.js";
import { mounts, type Mounted, type OnConnection } from "../helpers/mounts.js";
import { until } from "../helpers/client.js";
import { watchProcessFaults } from "./process-faults.js";

const faults = watchProcessFaults();

type Reported = { error: Error & { code?: string; cause?: unknown }; connection: Connection<any> | undefined };

describe.each(mounts)("$name", (style) => {
  let app: Mounted | undefined;
  const clients: ProtocolClient[] = [];
  const connections: Connection<any>[] = [];
  const reported: Reported[] = [];

  async function start(options: EndpointOptions<any>, onConnection: OnConnection) {
    app = await style.start(options, (connection, info) => {
      connections.push(connection);
      return onConnection(connection, info);
    });
    app.endpoint.onError((error, connection) => void reported.push({ error, connection }));
    return app;
  }

  async function connect() {
    const client = await ProtocolClient.connect(app!.url());
    clients.push(client);
    await until(() => connections.length >= clients.length, "the server side of the connection");
    return client;
  }

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    connections.splice(0);
    reported.splice(0);
    await app?.close();
    app = undefined;
  });

  /** Joins and leaves on the client's calls. */
  const roomCalls: OnConnection = (connection) => {
    connection.on("join", (room: string) => connection.join(room));
    connection.on("leave", (room: string) => connection.leave(room));
  };

  describe("room listeners", () => {
    it("reports an onRoomCreated listener that throws or rejects with the connection; the join stands", async () => {
      await start({}, roomCalls);
      const seen: string[] = [];
      app!.endpoint.onRoomCreated((room) => {
        seen.push(room);
        if (room === "sync") throw new Error("created failed (sync)");
      });
      app!.endpoint.onRoomCreated(async (room) => {
        if (room === "async") throw new Error("created failed (async)");
      });
      const client = await connect();
      expect(await client.call("join", "sync")).toMatchObject({ kind: "ack", result: true });
      expect(await client.call("join", "async")).toMatchObject({ kind: "ack", result: true });
      await until(() => reported.length === 2, "both listener failures");
      const connection = connections[0]!;
      for (const { error, connection: of } of reported) {
        expect(error.code).toBe(ErrorCode.HANDLER_FAILED);
        expect(of).toBe(connection);
      }
      expect(reported.map((r) => (r.error.cause as Error).message).sort()).toEqual(["created failed (async)", "created failed (sync)"]);
      expect(seen).toEqual(["sync", "async"]);
      expect([...connection.rooms]).toEqual(["sync", "async"]);
      expect(app!.endpoint.roomNames().sort()).toEqual(["async", "sync"]);
      await faults.none();
    });

    it("leaves every room on disconnect when onRoomEmptied throws or rejects, and reports each failure with the connection", async () => {
      await start({}, roomCalls);
      const emptied: string[] = [];
      app!.endpoint.onRoomEmptied((room) => {
        emptied.push(room);
        if (room === "a") throw new Error("emptied failed (sync)");
        if (room === "b") return Promise.reject(new Error("emptied failed (async)"));
      });
      const client = await connect();
      for (const room of ["a", "b", "c"]) await client.call("join", room);
      const connection = connections[0]!;
      client.close();
      await until(() => emptied.length === 3 && reported.length === 2, "every room emptied and both failures reported");
      expect(emptied.sort()).toEqual(["a", "b", "c"]);
      expect(app!.endpoint.roomNames()).toEqual([]);
      expect(connection.rooms.size).toBe(0);
      expect(reported.every((r) => r.connection === connection && r.error.code === ErrorCode.HANDLER_FAILED)).toBe(true);
      await faults.none();
    });

    it("reports an onRoomEmptied listener failure on leave, and the leave stands", async () => {
      await start({}, roomCalls);
      app!.endpoint.onRoomEmptied(() => {
        throw new Error("emptied failed");
      });
      const client = await connect();
      await client.call("join", "solo");
      expect(await client.call("leave", "solo")).toMatchObject({ kind: "ack", result: true });
      await until(() => reported.length === 1, "the failure");
      expect(reported[0]!.connection).toBe(connections[0]);
      expect(app!.endpoint.roomNames()).toEqual([]);
      expect(connections[0]!.rooms.size).toBe(0);
      await faults.none();
    });
  });

  describe("event handlers", () => {
    it("reports handlers of plain events that throw or reject with the connection, and keeps serving", async () => {
      await start({}, (connection) => {
        connection.on("sync", () => {
          throw new Error("sync failure");
        });
        connection.on("async", async () => {
          throw new Error("async failure");
        });
        connection.on("ping", () => "pong");
      });
      const client = await connect();
      client.emit("sync");
      client.emit("async");
      await until(() => reported.length === 2, "both failures");
      expect(reported.map((r) => r.error.code)).toEqual([ErrorCode.HANDLER_FAILED, ErrorCode.HANDLER_FAILED]);
      expect(reported.every((r) => r.connection === connections[0])).toBe(true);
      expect(await client.call("ping")).toMatchObject({ kind: "ack", result: "pong" });
      await faults.none();
    });

    it("answers a call whose handler throws or rejects exactly once, with x, and reports it", async () => {
      await start({}, (connection) => {
        connection.on("sync", () => {
          throw Object.assign(new Error("no such thing"), { code: "E_SYNC" });
        });
        connection.on("async", () => Promise.reject(Object.assign(new Error("later no"), { code: "E_ASYNC" })));
        connection.on("ping", () => "pong");
      });
      const client = await connect();
      expect(await client.call("sync")).toMatchObject({ kind: "ackError", error: { message: "no such thing", code: "E_SYNC" } });
      expect(await client.call("async")).toMatchObject({ kind: "ackError", error: { message: "later no", code: "E_ASYNC" } });
      // A later answer has come, so any second answer to the calls above would have too.
      await client.call("ping");
      expect(client.received.filter((m) => m.kind === "ack" || m.kind === "ackError").map((m) => m.kind)).toEqual(["ackError", "ackError", "ack"]);
      expect(reported.map((r) => r.error.code)).toEqual([ErrorCode.HANDLER_FAILED, ErrorCode.HANDLER_FAILED]);
      await faults.none();
    });

    it("answers with the first handler while further handlers that throw or reject are only reported", async () => {
      await start({}, (connection) => {
        connection.on("multi", (n: number) => n * 2);
        connection.on("multi", () => {
          throw new Error("listener sync");
        });
        connection.on("multi", async () => {
          throw new Error("listener async");
        });
      });
      const client = await connect();
      expect(await client.call("multi", 21)).toMatchObject({ kind: "ack", result: 42 });
      await until(() => reported.length === 2, "both listener failures");
      expect(reported.map((r) => (r.error.cause as Error).message).sort()).toEqual(["listener async", "listener sync"]);
      await faults.none();
    });

    it("answers a call with x and reports it when the handler returns a thenable whose then throws", async () => {
      await start({}, (connection) => {
        connection.on("getter", () => ({
          get then(): never {
            throw new Error("then getter");
          },
        }));
        connection.on("method", () => ({
          then() {
            throw new Error("then method");
          },
        }));
        connection.on("plain", () => ({
          then() {
            throw new Error("then of a plain event");
          },
        }));
      });
      const client = await connect();
      client.emit("plain");
      expect(await client.call("getter")).toMatchObject({ kind: "ackError", error: { message: "then getter" } });
      expect(await client.call("method")).toMatchObject({ kind: "ackError", error: { message: "then method" } });
      await until(() => reported.length === 3, "the three failures");
      expect(reported.map((r) => (r.error.cause as Error).message)).toEqual(["then of a plain event", "then getter", "then method"]);
      await faults.none();
    });

    it("answers ERR_WSMOUNT_INVALID_RESULT for an async result JSON cannot carry, without an unhandled rejection", async () => {
      await start({}, (connection) => {
        connection.on("bad", async () => ({
          toJSON() {
            throw new Error("cannot encode");
          },
        }));
      });
      const client = await connect();
      expect(await client.call("bad")).toMatchObject({ kind: "ackError", error: { code: "ERR_WSMOUNT_INVALID_RESULT" } });
      await until(() => reported.length === 1, "the failure");
      expect(reported[0]!.connection).toBe(connections[0]);
      await faults.none();
    });
  });

  describe("broker hooks", () => {
    it("reports a broker whose presence update throws, and never throws it into a join, a leave or a disconnect", async () => {
      const inner = memoryBroker();
      const broker: Broker = {
        connect(channel, deliver, onError, host, onRecovered) {
          const opened = inner.connect(channel, deliver, onError, host, onRecovered);
          const cluster = opened.cluster!;
          return {
            publish: (publication) => opened.publish(publication),
            close: () => opened.close(),
            cluster: {
              ...cluster,
              changed(kind, name) {
                if (kind === "room") throw new Error(`presence of ${name} failed`);
              },
              request: (id, request) => cluster.request(id, request),
              isOnline: (id) => cluster.isOnline(id),
              roomSize: (room) => cluster.roomSize(room),
            },
          };
        },
      };
      await start({ broker }, roomCalls);
      const client = await connect();
      expect(await client.call("join", "r1")).toMatchObject({ kind: "ack", result: true });
      expect(await client.call("join", "r2")).toMatchObject({ kind: "ack", result: true });
      expect(await client.call("leave", "r1")).toMatchObject({ kind: "ack", result: true });
      client.close();
      await until(() => app!.endpoint.roomNames().length === 0, "the rooms to empty");
      await until(() => reported.length === 4, "four presence failures");
      expect(reported.every((r) => r.error.code === ErrorCode.BROKER)).toBe(true);
      await faults.none();
    });
  });

  describe("bounds", () => {
    it("refuses a join past maxRoomsPerConnection with ERR_WSMOUNT_ROOM_LIMIT and changes nothing", async () => {
      await start({ maxRoomsPerConnection: 2 }, roomCalls);
      const created: string[] = [];
      app!.endpoint.onRoomCreated((room) => void created.push(room));
      const client = await connect();
      await client.call("join", "a");
      await client.call("join", "b");
      expect(await client.call("join", "c")).toMatchObject({ kind: "ackError", error: { code: "ERR_WSMOUNT_ROOM_LIMIT" } });
      const connection = connections[0]!;
      expect([...connection.rooms]).toEqual(["a", "b"]);
      expect(app!.endpoint.roomNames().sort()).toEqual(["a", "b"]);
      expect(created).toEqual(["a", "b"]);
      // Already in a room: not a new one, so not refused.
      expect(await client.call("join", "a")).toMatchObject({ kind: "ack", result: false });
      await client.call("leave", "a");
      expect(await client.call("join", "c")).toMatchObject({ kind: "ack", result: true });
      expect(() => connection.join("d")).toThrow(expect.objectContaining({ name: "RangeError", code: "ERR_WSMOUNT_ROOM_LIMIT" }));
      await faults.none();
    });

    it("bounds rooms per connection at 1000 by default", async () => {
      let outcome: unknown;
      await start({}, (connection) => {
        for (let i = 0; i < 1000; i++) connection.join(`room-${i}`);
        try {
          connection.join("one-too-many");
        } catch (error) {
          outcome = error;
        }
      });
      await connect();
      expect(connections[0]!.rooms.size).toBe(1000);
      expect(outcome).toMatchObject({ code: "ERR_WSMOUNT_ROOM_LIMIT" });
    });

    it("refuses emitWithAck past 1000 calls waiting for a silent client, sends nothing for it, and frees the slots as answers come", async () => {
      await start({}, () => {});
      const client = await connect();
      const connection = connections[0]!;
      const calls: Array<Promise<unknown>> = [];
      for (let i = 0; i < 1000; i++) calls.push(connection.emitWithAck("ask", i, { timeout: 0 }));
      const refused = connection.emitWithAck("ask", "one too many", { timeout: 0 });
      await expect(refused).rejects.toBeInstanceOf(AckError);
      await expect(refused).rejects.toMatchObject({ code: AckErrorCode.tooManyPending });
      await until(() => client.received.length === 1000, "the 1000 calls");
      // One answer frees one slot.
      const first = client.received[0]!;
      if (first.kind !== "event" || first.ackId === undefined) throw new Error("expected a call");
      client.ws.send(encodeAck(first.ackId, "answered"));
      await expect(calls[0]).resolves.toBe("answered");
      const again = connection.emitWithAck("ask", "again", { timeout: 0 });
      await until(() => client.received.length === 1001, "the call made after a slot was freed");
      client.close();
      const outcomes = await Promise.allSettled([...calls.slice(1), again]);
      expect(outcomes.every((o) => o.status === "rejected" && (o.reason as AckError).code === AckErrorCode.disconnected)).toBe(true);
      expect(client.events("one too many")).toEqual([]);
      await faults.none();
    });
  });
});

describe("bound options", () => {
  it("default to 1000, take Infinity, and throw a TypeError naming the option otherwise", async () => {
    const endpoint = createEndpoint();
    expect(endpoint.options.maxRoomsPerConnection).toBe(1000);
    expect(endpoint.options.maxPendingAcks).toBe(1000);
    await endpoint.close();
    for (const name of ["maxRoomsPerConnection", "maxPendingAcks"] as const) {
      const unbounded = createEndpoint({ [name]: Infinity });
      expect(unbounded.options[name]).toBe(Infinity);
      await unbounded.close();
      for (const value of [0, -1, 1.5, "10", null, Number.NaN]) {
        expect(() => createEndpoint({ [name]: value as number }), `${name}: ${String(value)}`).toThrow(
          expect.objectContaining({ name: "TypeError", message: expect.stringContaining(`option "${name}"`) }),
        );
      }
    }
  });
});

describe("the room index", () => {
  class Member implements RoomMember {
    _rooms: Set<string> | null = null;
    constructor(readonly id: string) {}
  }

  it("leaves nothing behind when a listener makes the leaving member join again during leaveAll", () => {
    const rooms = new Rooms<Member>();
    const member = new Member("m");
    rooms.join(member, "a");
    rooms.join(member, "b");
    let rejoins = 0;
    rooms.onEmptied((room) => {
      if (rejoins++ < 3) rooms.join(member, `${room}-again`);
    });
    rooms.leaveAll(member);
    expect([...rooms.names()]).toEqual([]);
    expect(member._rooms).toBeNull();
    expect(rejoins).toBeGreaterThan(3);
  });

  it("has the index updated before a listener runs, and keeps calling the other listeners after one throws", () => {
    const failures: Array<[string, Member]> = [];
    const rooms = new Rooms<Member>({ failed: (error, member) => void failures.push([error.message, member]) });
    const member = new Member("m");
    const seen: Array<[string, number, boolean]> = [];
    rooms.onCreated((room) => {
      seen.push([room, rooms.members(room).size, member._rooms?.has(room) === true]);
      throw new Error("first listener");
    });
    rooms.onCreated((room) => void seen.push([room, -1, true]));
    rooms.onEmptied((room) => {
      seen.push([room, rooms.members(room).size, member._rooms?.has(room) === true]);
      throw new Error("emptied listener");
    });
    expect(rooms.join(member, "r")).toBe(true);
    expect(rooms.leave(member, "r")).toBe(true);
    expect(seen).toEqual([
      ["r", 1, true],
      ["r", -1, true],
      ["r", 0, false],
    ]);
    expect(failures.map(([message, of]) => [message.includes("onRoomCreated") || message.includes("onRoomEmptied"), of])).toEqual([
      [true, member],
      [true, member],
    ]);
  });
});

describe("event state", () => {
  const peer = (): EventPeer & { sent: string[] } => {
    const sent: string[] = [];
    return { id: "p", sent, _sendText: (text) => (sent.push(text), true), _error: () => {} };
  };

  it("bounds the calls waiting for answers at the limit it is given", async () => {
    const state = new EventState(2);
    const p = peer();
    const waiting = [state.call(p, "a", 1, 0), state.call(p, "a", 2, 0)];
    await expect(state.call(p, "a", 3, 0)).rejects.toMatchObject({ code: AckErrorCode.tooManyPending });
    expect(p.sent).toHaveLength(2);
    expect(state.pending).toBe(2);
    state.closed();
    await Promise.allSettled(waiting);
    expect(state.pending).toBe(0);
    await expect(state.call(p, "a", 4, 50)).rejects.toMatchObject({ code: AckErrorCode.timeout });
    expect(state.pending).toBe(0);
  });
});
