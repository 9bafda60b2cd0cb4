/**
 * One fixture app per mounting style, all serving the same WebSocket routes, so that one suite runs
 * against every adapter. Framework fixtures put the same auth-like middleware before the routes:
 * `x-deny: 1` is refused with 401 (WWW-Authenticate and a body), `x-user: NAME` becomes the user, and
 * every request gets a `Set-Cookie: mw=1` header from middleware.
 */
import { afterEach } from "vitest";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import Koa from "koa";
import Router from "@koa/router";
import Fastify from "fastify";
import { websocket as expressWebSocket } from "../../adapters/express.js";
import { websocket as koaWebSocket } from "../../adapters/koa.js";
import fastifyWebSocket from "../../adapters/fastify.js";
import { websocket as nodeWebSocket } from "../../adapters/node.js";
import type { Connection, Endpoint, EndpointOptions } from "../../core/index.js";

/** What every fixture tells the connection handler. */
export interface HandlerInfo {
  /** The user the middleware put on the request (framework styles only). */
  user: string | undefined;
  /** Route parameters. */
  params: Record<string, string>;
}

export type OnConnection = (connection: Connection<any>, info: HandlerInfo) => unknown;

export interface Mounted {
  readonly port: number;
  readonly server: Server;
  readonly endpoint: Endpoint<any>;
  url(path?: string): string;
  close(): Promise<void>;
}

/** How a fixture starts. */
export interface Fixture {
  /** Attach the endpoint to the server (framework styles). @defaultValue true */
  attach?: boolean;
  /** The port to listen on. @defaultValue 0 (a free port) */
  port?: number;
}

export interface MountStyle {
  readonly name: "express" | "fastify" | "koa" | "node";
  /** Framework middleware runs before the upgrade (auth refusal, user, Set-Cookie). */
  readonly middleware: boolean;
  /** Route parameters: `/rooms/:room` is a WebSocket route too. */
  readonly params: boolean;
  /**
   * Starts the fixture on 127.0.0.1 with a WebSocket route at `/echo` (and `/rooms/:room` where
   * supported). `attach: false` leaves out `ws.attach(server)` (framework styles); `port` listens on
   * that port (to restart a fixture where it was) instead of a free one.
   */
  start(options: EndpointOptions<any>, onConnection: OnConnection, fixture?: Fixture): Promise<Mounted>;
}

const DENIED_BODY = "denied by middleware";

function listen(server: Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}

function mounted(port: number, server: Server, endpoint: Endpoint<any>, stop: () => Promise<void>): Mounted {
  return {
    port,
    server,
    endpoint,
    url: (path = "/echo") => `ws://127.0.0.1:${port}${path}`,
    close: stop,
  };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

const expressStyle: MountStyle = {
  name: "express",
  middleware: true,
  params: true,
  async start(options, onConnection, fixture = {}) {
    const app = express();
    const ws = expressWebSocket(options);
    app.use((req, res, next) => {
      if (req.headers["x-deny"] === "1") {
        res.status(401).set("WWW-Authenticate", 'Bearer realm="test"').type("text/plain").send(DENIED_BODY);
        return;
      }
      (req as typeof req & { user?: string }).user = req.headers["x-user"] as string | undefined;
      res.setHeader("Set-Cookie", "mw=1; Path=/");
      next();
    });
    const handler = ws.handler((connection, req) =>
      onConnection(connection, { user: (req as typeof req & { user?: string }).user, params: { ...req.params } as Record<string, string> }),
    );
    app.get("/echo", handler);
    const rooms = express.Router();
    rooms.get("/:room", handler);
    app.use("/rooms", rooms);
    const server = createServer(app);
    if (fixture.attach !== false) ws.attach(server);
    const port = await listen(server, fixture.port);
    return mounted(port, server, ws, async () => {
      await ws.close({ timeout: 500 });
      await closeServer(server);
    });
  },
};

const koaStyle: MountStyle = {
  name: "koa",
  middleware: true,
  params: true,
  async start(options, onConnection, fixture = {}) {
    const app = new Koa();
    const router = new Router();
    const ws = koaWebSocket(options);
    app.use(async (ctx, next) => {
      if (ctx.get("x-deny") === "1") {
        ctx.status = 401;
        ctx.set("WWW-Authenticate", 'Bearer realm="test"');
        ctx.body = DENIED_BODY;
        return;
      }
      ctx.state.user = ctx.get("x-user") || undefined;
      ctx.set("Set-Cookie", "mw=1; Path=/");
      await next();
    });
    const handler = ws.handler((connection, ctx) => onConnection(connection, { user: ctx.state.user, params: { ...(ctx.params ?? {}) } }));
    router.get("/echo", handler);
    router.get("/rooms/:room", handler);
    app.use(router.routes());
    const server = createServer(app.callback());
    if (fixture.attach !== false) ws.attach(server);
    const port = await listen(server, fixture.port);
    return mounted(port, server, ws, async () => {
      await ws.close({ timeout: 500 });
      await closeServer(server);
    });
  },
};

const fastifyStyle: MountStyle = {
  name: "fastify",
  middleware: true,
  params: true,
  async start(options, onConnection, fixture = {}) {
    const app = Fastify();
    await app.register(fastifyWebSocket, options);
    app.decorateRequest("user", undefined);
    app.addHook("onRequest", async (request, reply) => {
      if (request.headers["x-deny"] === "1") {
        return reply.code(401).header("WWW-Authenticate", 'Bearer realm="test"').type("text/plain").send(DENIED_BODY);
      }
      (request as typeof request & { user?: string }).user = request.headers["x-user"] as string | undefined;
      reply.header("Set-Cookie", "mw=1; Path=/");
    });
    const handler = (connection: Connection, request: { user?: string; params: unknown }) =>
      onConnection(connection, { user: request.user, params: { ...(request.params as Record<string, string>) } });
    app.get("/echo", { websocket: true }, handler);
    app.get("/rooms/:room", { websocket: true }, handler);
    await app.listen({ port: fixture.port ?? 0, host: "127.0.0.1" });
    const port = (app.server.address() as AddressInfo).port;
    return mounted(port, app.server, app.websocket, async () => {
      app.server.closeAllConnections();
      await app.close();
    });
  },
};

const nodeStyle: MountStyle = {
  name: "node",
  middleware: false,
  params: false,
  async start(options, onConnection, fixture = {}) {
    const server = createServer((_request, response) => response.writeHead(404, { "Content-Type": "text/plain" }).end("Not Found"));
    const ws = nodeWebSocket(options);
    ws.attach(server, { path: "/echo" }, (connection: Connection<any>, _request: IncomingMessage) => onConnection(connection, { user: undefined, params: {} }));
    const port = await listen(server, fixture.port);
    return mounted(port, server, ws, async () => {
      await ws.close({ timeout: 500 });
      await closeServer(server);
    });
  },
};

/** Every mounting style. */
export const mounts: readonly MountStyle[] = [expressStyle, fastifyStyle, koaStyle, nodeStyle];

/** The middleware fixture's refusal body. */
export const deniedBody = DENIED_BODY;

/**
 * One mounting style for a whole test file: `start` mounts as `style.start` does, and after each test the
 * `cleanup` functions run and every app started in it is closed.
 */
export function mountedPerTest(name: MountStyle["name"]): { start: MountStyle["start"]; cleanup: Array<() => void> } {
  const style = mounts.find((m) => m.name === name)!;
  const started: Mounted[] = [];
  const cleanup: Array<() => void> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0)) f();
    for (const app of started.splice(0)) await app.close();
  });
  return {
    cleanup,
    start: async (...args) => {
      const app = await style.start(...args);
      started.push(app);
      return app;
    },
  };
}
