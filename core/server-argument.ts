/**
 * The check of the server given to `attach`: a mistake there (the app instead of its server, nothing at
 * all) would otherwise fail far from its cause, as an upgrade that never reaches the endpoint. It throws
 * at once, with the call that fixes it.
 * @module
 */
import type { Server } from "node:http";
import { Server as NetServer } from "node:net";

/**
 * Throws a `TypeError` naming the fix unless `server` is an HTTP server (`node:http`, `node:https`, or
 * anything else built on `net.Server` that emits `'upgrade'`). `call` is how the user called it, e.g.
 * `ws.attach(server)`.
 */
export function requireServer(server: unknown, call: string): asserts server is Server {
  if (server instanceof NetServer) return;
  const fix = "const server = app.listen(3000); ws.attach(server)";
  if (server === undefined || server === null) {
    throw new TypeError(`wsmount: ${call} needs the HTTP server that app.listen() returned (or http.createServer()); got ${String(server)}. Use: ${fix}`);
  }
  const candidate = server as Record<string, unknown>;
  const has = (name: string) => typeof candidate[name] === "function";
  if (typeof server === "function" && has("listen") && has("use") && has("handle")) {
    throw new TypeError(`wsmount: ${call} got the Express app, not its HTTP server; attach the server that app.listen() returned: ${fix}`);
  }
  if (typeof server === "object" && has("callback") && has("listen") && has("use")) {
    throw new TypeError(`wsmount: ${call} got the Koa app, not its HTTP server; attach the server that app.listen() returned: ${fix}`);
  }
  if (typeof server === "object" && has("addHook") && has("register") && typeof candidate["server"] === "object") {
    throw new TypeError(
      `wsmount: ${call} got a Fastify instance; on Fastify, register the plugin instead (it attaches to app.server itself): import websocket from "wsmount/fastify"; await app.register(websocket)`,
    );
  }
  // A server from elsewhere (another realm, a wrapper) that still speaks the EventEmitter and address() API.
  if (typeof server === "object" && has("on") && has("listeners") && has("removeListener") && has("address")) return;
  throw new TypeError(`wsmount: ${call} needs an HTTP server (node:http or node:https); got ${describe(server)}. Use: ${fix}`);
}

function describe(value: unknown): string {
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  if (typeof value === "number") return `the number ${value}${Number.isInteger(value) ? " (a port? pass the server that listens on it)" : ""}`;
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return `an object (${Object.getPrototypeOf(value)?.constructor?.name ?? "no prototype"})`;
  return String(value);
}
