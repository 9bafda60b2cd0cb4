/**
 * Framework fixtures with a middleware of the test's choosing before the WebSocket route at `/echo`:
 * Express middleware, Koa middleware, a Fastify `onRequest` hook. For what happens while middleware
 * runs: a middleware that holds the request (async), or one that throws.
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import Koa from "koa";
import Router from "@koa/router";
import Fastify from "fastify";
import { websocket as expressWebSocket } from "../../adapters/express.js";
import { websocket as koaWebSocket } from "../../adapters/koa.js";
import fastifyWebSocket from "../../adapters/fastify.js";
import type { Connection, EndpointOptions } from "../../core/index.js";
import type { Mounted } from "./mounts.js";

/**
 * Runs before the route on every request, with the request's headers. A thrown error is thrown from
 * the framework's middleware synchronously; a returned promise holds the request until it settles (a
 * rejection is the middleware failing).
 */
export type Middleware = (headers: IncomingHttpHeaders) => void | Promise<void>;

/** The framework styles (the node:http style has no middleware). */
export type FrameworkName = "express" | "fastify" | "koa";

/**
 * Starts `name` on 127.0.0.1 with `middleware` first and a WebSocket route at `/echo` whose connection
 * handler is `onConnection`; other paths are the framework's 404. The endpoint is attached.
 */
export async function startWithMiddleware(
  name: FrameworkName,
  options: EndpointOptions<any>,
  onConnection: (connection: Connection<any>) => unknown,
  middleware: Middleware,
): Promise<Mounted> {
  if (name === "express") {
    const app = express();
    const ws = expressWebSocket(options);
    app.use((req, _res, next) => {
      const held = middleware(req.headers);
      if (held === undefined) next();
      else held.then(() => next(), next);
    });
    app.get("/echo", ws.handler((connection) => onConnection(connection)));
    const server = createServer(app);
    ws.attach(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return started((server.address() as AddressInfo).port, server, ws, async () => {
      await ws.close({ timeout: 500 });
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
  }
  if (name === "koa") {
    const app = new Koa();
    // Errors the middleware throws on purpose are the test's business, not the console's.
    app.silent = true;
    const router = new Router();
    const ws = koaWebSocket(options);
    // Not an async function: a synchronous throw leaves the middleware as a throw (koa-compose turns it into a rejection).
    app.use((ctx, next) => {
      const held = middleware(ctx.req.headers);
      return held === undefined ? next() : held.then(() => next());
    });
    router.get("/echo", ws.handler((connection) => onConnection(connection)));
    app.use(router.routes());
    const server = createServer(app.callback());
    ws.attach(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return started((server.address() as AddressInfo).port, server, ws, async () => {
      await ws.close({ timeout: 500 });
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
  }
  const app = Fastify();
  await app.register(fastifyWebSocket, options);
  // A callback-style hook: a synchronous throw leaves the hook as a throw.
  app.addHook("onRequest", (request, _reply, done) => {
    const held = middleware(request.headers);
    if (held === undefined) done();
    else held.then(() => done(), (error: Error) => done(error));
  });
  app.get("/echo", { websocket: true }, (connection: Connection) => onConnection(connection));
  await app.listen({ port: 0, host: "127.0.0.1" });
  return started((app.server.address() as AddressInfo).port, app.server, app.websocket, async () => {
    app.server.closeAllConnections();
    await app.close();
  });
}

function started(port: number, server: Mounted["server"], endpoint: Mounted["endpoint"], close: () => Promise<void>): Mounted {
  return { port, server, endpoint, url: (path = "/echo") => `ws://127.0.0.1:${port}${path}`, close };
}
