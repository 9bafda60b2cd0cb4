/**
 * Type-level tests, checked by `npx tsc --noEmit -p .` (not run by vitest): each `@ts-expect-error` line must be
 * a compile error, or tsc fails with "Unused '@ts-expect-error' directive".
 */
import { WebSocket as NodeWebSocket } from "ws";
import { connect, type AckResult, type EventData, type EventHandler, type EventNames } from "../../client/index.js";
import type { EventArgs, EventMap } from "../../core/protocol/index.js";

/** Events the server sends to clients (an interface, as users write them). */
interface ServerEvents {
  "chat:message": (msg: { room: string; text: string; from: string }) => void;
  "presence": (users: string[]) => void;
  "server:ping": () => "pong";
  "confirm": (question: string) => boolean;
}

/** Events clients send to the server (a type alias works too). */
type ClientEvents = {
  "chat:send": (msg: { room: string; text: string }) => void;
  "rooms:join": (room: string) => { members: number };
  "time": () => Promise<number>;
  "maybe": (filter?: string) => string[];
};

const client = connect<ServerEvents, ClientEvents>("ws://127.0.0.1:1/", { WebSocket: NodeWebSocket });

// ---- emit: names and data checked against ClientEvents
client.emit("chat:send", { room: "lobby", text: "hi" });
client.emit("time");
client.emit("maybe");
client.emit("maybe", "x");
// @ts-expect-error unknown event name
client.emit("chat:sned", { room: "lobby", text: "hi" });
// @ts-expect-error wrong data type
client.emit("chat:send", { room: "lobby" });
// @ts-expect-error data missing
client.emit("rooms:join");
// @ts-expect-error data given to an event without data
client.emit("time", 5);
// @ts-expect-error a server-to-client event is not emitted by the client
client.emit("presence", []);

// ---- emitWithAck: result typed from the map, options after the data
async function acks(): Promise<void> {
  const joined = await client.emitWithAck("rooms:join", "lobby", { timeout: 1_000 });
  const members: number = joined.members;
  const now: number = await client.emitWithAck("time");
  const withOptions: number = await client.emitWithAck("time", undefined, { timeout: 5 });
  const list: string[] = await client.emitWithAck("maybe");
  // @ts-expect-error the result is { members: number }, not a string
  const wrong: string = await client.emitWithAck("rooms:join", "lobby");
  // @ts-expect-error wrong data type for an acknowledged event
  await client.emitWithAck("rooms:join", 42);
  // @ts-expect-error unknown option
  await client.emitWithAck("time", undefined, { timout: 5 });
  void [members, now, withOptions, list, wrong];
}
void acks;

// ---- on: handlers typed from ServerEvents, acknowledgement results checked
client.on("chat:message", (msg) => {
  const text: string = msg.text;
  // @ts-expect-error no such property
  void msg.body;
  void text;
});
client.on("server:ping", () => "pong");
client.on("confirm", async (question) => question.length > 0);
// @ts-expect-error the ack result must be "pong"
client.on("server:ping", () => "ping");
// @ts-expect-error the ack result must be a boolean (or a promise of one)
client.on("confirm", async () => "yes");
// @ts-expect-error unknown event
client.on("chat:msg", () => {});
// @ts-expect-error a client-to-server event is not received by the client
client.on("rooms:join", () => ({ members: 1 }));

// ---- the helper types the server uses with the same maps
type JoinData = EventData<ClientEvents, "rooms:join">;
const room: JoinData = "lobby";
// @ts-expect-error JoinData is a string
const notRoom: JoinData = 1;
type JoinResult = AckResult<ClientEvents, "rooms:join">;
const result: JoinResult = { members: 2 };
type TimeResult = AckResult<ClientEvents, "time">;
const time: TimeResult = 1;
const names: Array<EventNames<ClientEvents>> = ["chat:send", "time"];
// @ts-expect-error not an event of ClientEvents
const badNames: Array<EventNames<ClientEvents>> = ["presence"];
const noData: EventData<ClientEvents, "time"> = undefined;
void [room, notRoom, result, time, names, badNames, noData];

/** How a server connection types itself with the shared helpers (the server's own class follows this shape). */
interface TypedConnection<In extends EventMap, Out extends EventMap> {
  on<K extends EventNames<In>>(event: K, handler: EventHandler<In, K>): void;
  emit<K extends EventNames<Out>>(event: K, ...args: EventArgs<Out, K>): boolean;
}
declare const conn: TypedConnection<ClientEvents, ServerEvents>;
conn.on("rooms:join", (roomName) => ({ members: roomName.length }));
conn.on("time", async () => Date.now());
conn.emit("chat:message", { room: "a", text: "b", from: "c" });
conn.emit("server:ping");
// @ts-expect-error the handler must return { members: number }
conn.on("rooms:join", () => ({ count: 1 }));
// @ts-expect-error the server cannot emit a client-to-server event
conn.emit("rooms:join", "lobby");
// @ts-expect-error wrong data
conn.emit("presence", "alice");

// ---- without maps, anything goes
const loose = connect("ws://127.0.0.1:1/", { WebSocket: NodeWebSocket });
loose.emit("anything", { x: 1 });
loose.emit("no-data");
loose.on("whatever", (data) => data);
void loose.emitWithAck("x", 1, { timeout: 1 });

// ---- the WebSocket option takes `ws` and the browser's constructor, and nothing else
connect("ws://127.0.0.1:1/", { WebSocket: globalThis.WebSocket });
// @ts-expect-error not a WebSocket constructor
connect("ws://127.0.0.1:1/", { WebSocket: class {} });
