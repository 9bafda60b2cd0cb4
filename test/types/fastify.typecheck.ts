/**
 * Type-level tests of the Fastify plugin without declaration merging (the program's default), checked by
 * `tsc --noEmit` (part of `npm test`): each `@ts-expect-error` line must be an error, or the check fails.
 * The plugin typed by `FastifyWebSocketTypes` is tested in test/types/fastify-augmented/.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import websocket, { clientScript, FastifyWebSocket, type FastifyConnection, type WebSocketRouteHandler } from "../../adapters/fastify.js";
import type { Connection, DefaultEventMap } from "../../core/index.js";

const app = Fastify();

// Plugin options are the endpoint options, checked.
await app.register(websocket, { pingInterval: 0, subprotocols: ["chat.v1"], authenticate: () => ({ data: { any: "thing" } }) });
await app.register(websocket, { prefix: "/ws" });
// @ts-expect-error: pingInterval is a number of milliseconds
await app.register(websocket, { pingInterval: "30s" });
// @ts-expect-error: not an option of wsmount (it is maxMessageSize)
await app.register(websocket, { maxPayload: 1024 });
// @ts-expect-error: not an option of wsmount (it is compression)
await app.register(websocket, { perMessageDeflate: true });

// Route options: `websocket: true` makes the handler (connection, request).
app.get("/echo", { websocket: true }, (conn, request) => {
  const connection: Connection = conn;
  const url: string = request.url;
  conn.onMessage((data, isBinary) => conn.send(data, { binary: isBinary }));
  // Without declaration merging, any event with any data.
  conn.on("anything", (data: unknown) => data);
  conn.emit("whatever", { any: 1 });
  void connection;
  void url;
});

// The route's generics type the request; hooks and the rest of the route options still apply.
app.get<{ Params: { room: string }; Querystring: { token?: string } }>(
  "/rooms/:room",
  {
    websocket: true,
    onRequest: async (request, reply) => {
      if (request.query.token === undefined) return reply.code(401).send("Unauthorized");
    },
    config: { rateLimit: false },
  },
  function (conn, request) {
    const room: string = request.params.room;
    // `this` is the instance, as in Fastify's route handlers.
    const instance: FastifyInstance = this;
    conn.join(room);
    instance.websocket.to(room).send("joined");
    // @ts-expect-error: the params have no "id"
    void request.params.id;
  },
);

// @ts-expect-error: an HTTP handler (request, reply) on a WebSocket route
app.get("/wrong", { websocket: true }, (request, reply) => reply.send("hi"));
// @ts-expect-error: a WebSocket handler gets no reply
app.get("/wrong2", { websocket: true }, (conn: FastifyConnection, request: FastifyRequest, reply: FastifyReply) => reply.send(conn.id + request.url));
// @ts-expect-error: "websocket" is a boolean
app.get("/wrong3", { websocket: "yes" }, (conn: FastifyConnection) => conn.close());

// Route handlers written apart from the route.
const handler: WebSocketRouteHandler = (conn, request) => conn.send(request.url);
app.get("/apart", { websocket: true }, handler);
function onConnection(conn: FastifyConnection, request: FastifyRequest): void {
  conn.send(request.url);
}
app.get("/apart2", { websocket: true }, onConnection);

// Plain routes are untouched.
app.get("/plain", (request, reply) => reply.send(request.url));
app.get("/plain2", { websocket: false }, async () => "hello");
app.get("/wsmount.js", clientScript({ format: "iife" }));
// @ts-expect-error: "esm" or "iife"
app.get("/wsmount2.js", clientScript({ format: "cjs" }));

// The instance's endpoint.
const endpoint: FastifyWebSocket<unknown, DefaultEventMap, DefaultEventMap> = app.websocket;
const size: number = endpoint.size;
void size;
await app.websocket.close({ timeout: 1000 });
