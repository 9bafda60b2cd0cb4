/**
 * Type-level tests of every adapter's handler: the context it gives (Express request, Koa context, Node
 * request, Fastify request), session data, and typed events in both directions, checked by `tsc --noEmit`
 * (part of `npm test`): each `@ts-expect-error` line must be an error, or the check fails. Fastify, whose
 * endpoint is typed by declaration merging, is in fastify.typecheck.ts and fastify-augmented/.
 */
import type { Request } from "express";
import type { Context } from "koa";
import type { IncomingMessage } from "node:http";
import { createServer } from "node:http";
import { websocket as expressWebSocket } from "../../adapters/express.js";
import { websocket as koaWebSocket } from "../../adapters/koa.js";
import { websocket as nodeWebSocket } from "../../adapters/node.js";
import { createEndpoint, type Connection, type Endpoint } from "../../core/index.js";

interface ClientEvents {
  say: (text: string) => void;
  add: (numbers: { a: number; b: number }) => number;
}
interface ServerEvents {
  said: (message: { from: string; text: string }) => void;
  ask: (question: string) => boolean;
}
interface Session {
  name: string;
}

/** The same checks for every adapter's typed connection. */
function typedConnection(conn: Connection<Session, ClientEvents, ServerEvents>): void {
  const name: string = conn.data.name;
  // @ts-expect-error: the session data is { name: string }
  void conn.data.id;

  conn.on("say", (text) => conn.broadcast.emit("said", { from: name, text }));
  conn.on("add", ({ a, b }) => a + b);
  conn.on("add", async ({ a, b }) => a * b);
  // @ts-expect-error: not an event clients send
  conn.on("said", () => {});
  // @ts-expect-error: "add" is answered with a number
  conn.on("add", () => "three");
  // @ts-expect-error: "say" carries a string
  conn.on("say", (text: number) => text);

  conn.emit("said", { from: "server", text: "hi" });
  // @ts-expect-error: not an event the server emits
  conn.emit("say", "hi");
  // @ts-expect-error: "said" needs "from"
  conn.emit("said", { text: "hi" });
  void conn.emitWithAck("ask", "ok?").then((yes): boolean => yes);
  // @ts-expect-error: "ask" is answered with a boolean
  void conn.emitWithAck("ask", "ok?").then((yes): string => yes);
  conn.to("room").emit("said", { from: name, text: "in the room" });
  // @ts-expect-error: wrong payload to a room
  conn.to("room").emit("said", "hi");
}

function typedEndpoint(ws: Endpoint<Session, ClientEvents, ServerEvents>): void {
  ws.emit("said", { from: "server", text: "to everyone" });
  ws.to("lobby").except("muted").emit("said", { from: "server", text: "to the lobby" });
  // @ts-expect-error: not an event the server emits
  ws.emit("say", "hi");
  const session: Session | undefined = ws.getSession("id");
  void session;
  ws.onClose((conn, code) => typedConnection(conn) ?? code);
}

// Express: the request is Express's.
const express = expressWebSocket<Session, ClientEvents, ServerEvents>({ authenticate: () => ({ data: { name: "ada" } }) });
express.handler((conn, req) => {
  const request: Request = req;
  const room: string | string[] | undefined = req.params["room"];
  typedConnection(conn);
  void request;
  void room;
});
// @ts-expect-error: authenticate gives the session data
expressWebSocket<Session>({ authenticate: () => ({ data: { id: 1 } }) });
// @ts-expect-error: the handler's context is an Express request, not a Koa context
express.handler((conn, ctx: Context) => ctx.throw(401));
typedEndpoint(express);

// Koa: the context is Koa's, in handler() and middleware().
const koa = koaWebSocket<Session, ClientEvents, ServerEvents>();
koa.handler((conn, ctx) => {
  const context: Context = ctx;
  const state: unknown = ctx.state;
  typedConnection(conn);
  void context;
  void state;
});
koa.middleware("/live", (conn, ctx) => {
  typedConnection(conn);
  ctx.status = 200;
});
// @ts-expect-error: the path comes first
koa.middleware((conn: Connection) => conn.close(), "/live");
typedEndpoint(koa);

// node:http: the request is Node's, and the mount takes { path }.
const node = nodeWebSocket<Session, ClientEvents, ServerEvents>();
node.attach(createServer(), { path: "/live" }, (conn, request) => {
  const incoming: IncomingMessage = request;
  typedConnection(conn);
  void incoming;
});
// @ts-expect-error: the mount is { path: "/live" }, not a string
node.attach(createServer(), "/live", (conn: Connection) => conn.close());
typedEndpoint(node);

// The core alone.
typedEndpoint(createEndpoint<Session, ClientEvents, ServerEvents>());
