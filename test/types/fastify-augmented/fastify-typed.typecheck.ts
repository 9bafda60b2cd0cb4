/**
 * Type-level tests of the Fastify plugin typed by declaration merging (`FastifyWebSocketTypes`), checked by
 * `tsc --noEmit -p test/types/fastify-augmented` (part of `npm run typecheck` and `npm test`): each
 * `@ts-expect-error` line must be an error, or the check fails.
 */
import Fastify from "fastify";
import websocket, { FastifyWebSocket, type FastifyConnection, type FastifyWebSocketOptions } from "wsmount/fastify";
import { HandshakeRejection, type Connection } from "wsmount";

interface ClientEvents {
  "chat:send": (message: { room: string; text: string }) => void;
  "rooms:join": (room: string) => { members: number };
}

interface ServerEvents {
  "chat:message": (message: { from: string; text: string }) => void;
  confirm: (question: string) => boolean;
}

declare module "wsmount/fastify" {
  interface FastifyWebSocketTypes {
    data: { name: string };
    clientEvents: ClientEvents;
    serverEvents: ServerEvents;
  }
}

const app = Fastify();

// The plugin options: `authenticate` gives the session data set above.
await app.register(websocket, { authenticate: () => ({ data: { name: "ada" } }), pingInterval: 0 });
await app.register(websocket, { authenticate: async () => new HandshakeRejection(403) });
// @ts-expect-error: the session data has no "user", it has a "name"
await app.register(websocket, { authenticate: () => ({ data: { user: "ada" } }) });
// @ts-expect-error: not an option of wsmount (it is maxMessageSize)
await app.register(websocket, { maxPayload: 1024 });
const options: FastifyWebSocketOptions = { authenticate: () => ({ id: "a", data: { name: "a" } }) };
void options;

app.get<{ Params: { room: string } }>("/rooms/:room", { websocket: true }, (conn, request) => {
  const name: string = conn.data.name;
  const room: string = request.params.room;
  // @ts-expect-error: the session data is { name: string }
  void conn.data.user;

  // Events clients send.
  conn.on("chat:send", (message) => {
    const text: string = message.text;
    conn.to(message.room).emit("chat:message", { from: name, text });
  });
  conn.on("rooms:join", (joined) => ({ members: joined.length }));
  // @ts-expect-error: not an event clients send
  conn.on("chat:message", () => {});
  // @ts-expect-error: the answer must be { members: number }
  conn.on("rooms:join", () => "joined");

  // Events the server emits, from the connection and from the instance's endpoint.
  conn.emit("chat:message", { from: "server", text: `welcome to ${room}` });
  // @ts-expect-error: missing field "from"
  conn.emit("chat:message", { text: "hi" });
  // @ts-expect-error: not an event the server emits
  conn.emit("chat:send", { room, text: "hi" });
  void conn.emitWithAck("confirm", "sure?").then((yes): boolean => yes);
  // @ts-expect-error: the answer is a boolean
  void conn.emitWithAck("confirm", "sure?").then((yes): string => yes);
});

app.websocket.to("lobby").emit("chat:message", { from: "server", text: "hi" });
// @ts-expect-error: wrong payload type
app.websocket.emit("chat:message", "hi");
const endpoint: FastifyWebSocket<{ name: string }, ClientEvents, ServerEvents> = app.websocket;
void endpoint;
const session: { name: string } | undefined = app.websocket.getSession("a");
void session;
// @ts-expect-error: the session data is { name: string }
const wrongSession: { user: string } | undefined = app.websocket.getSession("a");
void wrongSession;

// A handler written apart from the route takes a FastifyConnection.
function onChat(conn: FastifyConnection): void {
  conn.emit("chat:message", { from: conn.data.name, text: "hi" });
}
app.get("/chat", { websocket: true }, onChat);
// @ts-expect-error: a connection of other session data and events is not what the route gives
app.get("/other", { websocket: true }, (conn: Connection<{ id: number }, { ping: () => void }>) => conn.data.id);
