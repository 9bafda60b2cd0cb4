/**
 * An open, idle connection holds nothing of the HTTP exchange that opened it: the framework's request
 * and response objects (Express `req`/`res`, Koa's `ctx`, Fastify's request and reply, node's
 * `IncomingMessage`) are collectable as soon as the connection handler has returned, while the
 * connection stays open. Measured per connection with `npm run bench:memory -- <target>`: none of these
 * objects shows up in the heap of a server holding 10000 idle connections; these tests keep it so.
 *
 * Real servers on loopback, real `ws` clients; the framework objects are watched through WeakRefs and
 * GC is run until they are gone.
 */
import { afterEach, describe, expect, test } from "vitest";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import express from "express";
import Koa from "koa";
import Router from "@koa/router";
import Fastify from "fastify";
import WebSocket from "ws";
import { websocket as expressWebSocket } from "../../adapters/express.js";
import { websocket as koaWebSocket } from "../../adapters/koa.js";
import fastifyWebSocket from "../../adapters/fastify.js";
import { websocket as nodeWebSocket } from "../../adapters/node.js";
import type { Connection } from "../../core/index.js";
import { exposeGc } from "../conformance/leak-tracking.js";
import { open } from "../helpers/client.js";

function gcOrNull(): (() => void) | null {
  try {
    return exposeGc();
  } catch {
    return null;
  }
}

const gc = gcOrNull();
/** Said in the test's name when it is skipped. */
const skipped = gc === null ? " (skipped: GC cannot be run in this process; run node with --expose-gc)" : "";

/** What a fixture saw in its connection handler: weak references only, so that the test holds nothing. */
interface Watched {
  /** The framework's objects of the upgrade request, by name. */
  refs: Map<string, WeakRef<object>>;
  /** The connection, held strongly: it must stay open while the others go. */
  connections: Connection<any>[];
}

interface Fixture {
  server: Server;
  close(): Promise<void>;
}

function watch(watched: Watched, named: Record<string, object | null | undefined>): void {
  const index = watched.connections.length;
  for (const [name, value] of Object.entries(named)) {
    if (value !== null && value !== undefined) watched.refs.set(`${name} (connection ${index})`, new WeakRef(value));
  }
}

function listen(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

const fixtures: Record<string, (watched: Watched) => Promise<Fixture>> = {
  async express(watched) {
    const app = express();
    const ws = expressWebSocket({ logger: false });
    // Middleware before the route, as applications have: it puts things on the request and response.
    app.use((req, res, next) => {
      (req as typeof req & { user?: object }).user = { id: "u1" };
      res.setHeader("Set-Cookie", "mw=1; Path=/");
      next();
    });
    app.get(
      "/echo",
      ws.handler((connection, req) => {
        watched.connections.push(connection);
        watch(watched, { req, res: req.res });
      }),
    );
    const server = createServer(app);
    ws.attach(server);
    await listen(server);
    return { server, close: async () => (await ws.close({ timeout: 500 }), await closeServer(server)) };
  },

  async koa(watched) {
    const app = new Koa();
    const router = new Router();
    const ws = koaWebSocket({ logger: false });
    app.use(async (ctx, next) => {
      ctx.state.user = { id: "u1" };
      ctx.set("Set-Cookie", "mw=1; Path=/");
      await next();
    });
    router.get(
      "/echo",
      ws.handler((connection, ctx) => {
        watched.connections.push(connection);
        watch(watched, { ctx, "ctx.request": ctx.request, "ctx.response": ctx.response, "ctx.req": ctx.req, "ctx.res": ctx.res, "ctx.state": ctx.state });
      }),
    );
    app.use(router.routes());
    const server = createServer(app.callback());
    ws.attach(server);
    await listen(server);
    return { server, close: async () => (await ws.close({ timeout: 500 }), await closeServer(server)) };
  },

  async fastify(watched) {
    const app = Fastify();
    await app.register(fastifyWebSocket, { logger: false });
    app.addHook("onRequest", async (request, reply) => {
      (request as typeof request & { user?: object }).user = { id: "u1" };
      reply.header("Set-Cookie", "mw=1; Path=/");
    });
    app.get("/echo", { websocket: true }, (connection, request) => {
      watched.connections.push(connection);
      // The reply is not handed to WebSocket handlers; the raw response is reached through the request.
      const raw = request.raw as IncomingMessage & { res?: object };
      watch(watched, { request, "request.raw": request.raw, "request.raw.res": raw.res });
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    return {
      server: app.server,
      close: async () => {
        app.server.closeAllConnections();
        await app.close();
      },
    };
  },

  async node(watched) {
    const server = createServer((_request, response) => response.writeHead(404).end());
    const ws = nodeWebSocket({ logger: false });
    ws.attach(server, { path: "/echo" }, (connection, request) => {
      watched.connections.push(connection);
      watch(watched, { request, "request.headers": request.headers });
    });
    await listen(server);
    return { server, close: async () => (await ws.close({ timeout: 500 }), await closeServer(server)) };
  },
};

/** Runs GC until every watched object is gone or `timeout` passes; returns the names of those still alive. */
async function survivors(refs: Map<string, WeakRef<object>>, collect: () => void, timeout = 5_000): Promise<string[]> {
  const deadline = Date.now() + timeout;
  for (;;) {
    // WeakRef targets live at least to the end of the job that made or read them: collect in a later one.
    await sleep(10);
    collect();
    const alive = [...refs].filter(([, ref]) => ref.deref() !== undefined).map(([name]) => name);
    if (alive.length === 0 || Date.now() > deadline) return alive;
  }
}

describe.each(Object.keys(fixtures))("an open connection through %s", (name) => {
  let fixture: Fixture | null = null;
  const clients: WebSocket[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.terminate();
    await fixture?.close();
    fixture = null;
  });

  test.skipIf(gc === null)(`holds none of the framework's request and response objects${skipped}`, async () => {
    const watched: Watched = { refs: new Map(), connections: [] };
    fixture = await fixtures[name]!(watched);
    const port = (fixture.server.address() as AddressInfo).port;
    for (let i = 0; i < 3; i++) clients.push((await open(`ws://127.0.0.1:${port}/echo`)).ws);
    expect(watched.connections).toHaveLength(3);
    expect(watched.refs.size).toBeGreaterThan(0);

    const alive = await survivors(watched.refs, gc!);

    expect(alive).toEqual([]);
    // The connections themselves are open and still work.
    for (const connection of watched.connections) expect(connection.readyState).toBe(WebSocket.OPEN);
    const echoed = new Promise<string>((resolve) => clients[0]!.once("ping", () => resolve("ping")));
    watched.connections[0]!.ping();
    expect(await echoed).toBe("ping");
  });
});
