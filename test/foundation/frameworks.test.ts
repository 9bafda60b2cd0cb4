/** Behaviours particular to one framework's way of mounting. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import express from "express";
import Koa from "koa";
import Fastify, { type FastifyInstance } from "fastify";
import request from "supertest";
import { websocket as expressWebSocket } from "../../adapters/express.js";
import { websocket as koaWebSocket } from "../../adapters/koa.js";
import fastifyWebSocket from "../../adapters/fastify.js";
import { closed, nextMessage, open, refused } from "../helpers/client.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function listen(server: Server): Promise<number> {
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}

async function fastifyApp(setup: (app: FastifyInstance) => void | Promise<void>): Promise<[FastifyInstance, number]> {
  const app = Fastify();
  await app.register(fastifyWebSocket);
  await setup(app);
  await app.listen({ port: 0, host: "127.0.0.1" });
  cleanups.push(async () => {
    app.server.closeAllConnections();
    await app.close();
  });
  return [app, (app.server.address() as AddressInfo).port];
}

describe("fastify", () => {
  it.each(["preValidation", "preHandler"] as const)("lets a %s hook refuse the upgrade", async (hook) => {
    const [, port] = await fastifyApp((app) => {
      app.addHook(hook, async (_request, reply) => reply.code(429).header("Retry-After", "7").send("slow down"));
      app.get("/echo", { websocket: true }, () => {});
    });
    const answer = await refused(`ws://127.0.0.1:${port}/echo`);
    expect([answer.status, answer.headers["retry-after"], answer.body]).toEqual([429, "7", "slow down"]);
  });

  it("closes connections gracefully on app.close()", async () => {
    const app = Fastify();
    await app.register(fastifyWebSocket);
    app.get("/echo", { websocket: true }, () => {});
    await app.listen({ port: 0, host: "127.0.0.1" });
    const { ws } = await open(`ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/echo`);
    const closing = closed(ws);
    await app.close();
    expect((await closing).code).toBe(1001);
  });

  it("exposes the endpoint as app.websocket", async () => {
    const [app, port] = await fastifyApp((a) => void a.get("/echo", { websocket: true }, (conn) => void conn.send(conn.id)));
    const { ws } = await open(`ws://127.0.0.1:${port}/echo`);
    const id = (await nextMessage(ws)).data.toString();
    expect(app.websocket.getConnection(id)).toBeDefined();
    ws.terminate();
  });

  it("calls the handler with the route's own (encapsulated) instance as `this`", async () => {
    const [, port] = await fastifyApp(async (app) => {
      await app.register(async (child) => {
        child.decorate("greeting", "hello from the child instance");
        child.get("/echo", { websocket: true }, function (conn) {
          conn.send((this as FastifyInstance & { greeting: string }).greeting);
        });
      });
    });
    const { ws } = await open(`ws://127.0.0.1:${port}/echo`);
    expect((await nextMessage(ws)).data.toString()).toBe("hello from the child instance");
    ws.terminate();
  });

  it("refuses to declare a non-GET websocket route", async () => {
    const app = Fastify();
    await app.register(fastifyWebSocket);
    expect(() => app.post("/x", { websocket: true } as never, () => {})).toThrow(/GET/);
    await app.close();
  });
});

describe("koa", () => {
  it("serves a path through the middleware form and passes other requests on", async () => {
    const app = new Koa();
    const ws = koaWebSocket();
    app.use(ws.middleware("/live", (conn) => void conn.send("live")));
    app.use((ctx) => void (ctx.body = "http"));
    const server = createServer(app.callback());
    ws.attach(server);
    const port = await listen(server);
    cleanups.push(() => ws.close({ timeout: 100 }));
    const { ws: client } = await open(`ws://127.0.0.1:${port}/live`);
    expect((await nextMessage(client)).data.toString()).toBe("live");
    expect((await request(server).get("/other")).text).toBe("http");
    expect((await request(server).get("/live")).status).toBe(426);
    client.terminate();
  });

  it("reports ctx.throw from middleware as the HTTP answer", async () => {
    const app = new Koa();
    app.silent = true;
    const ws = koaWebSocket();
    app.use((ctx) => ctx.throw(403, "members only"));
    app.use(ws.middleware("/live", () => {}));
    const server = createServer(app.callback());
    ws.attach(server);
    const port = await listen(server);
    cleanups.push(() => ws.close({ timeout: 100 }));
    const answer = await refused(`ws://127.0.0.1:${port}/live`);
    expect([answer.status, answer.body]).toEqual([403, "members only"]);
  });
});

describe("express", () => {
  it("answers a middleware error with the error handler's status", async () => {
    const app = express();
    const ws = expressWebSocket();
    app.get("/echo", (_req, _res, next) => next(Object.assign(new Error("nope"), { status: 418 })), ws.handler(() => {}));
    const server = createServer(app);
    ws.attach(server);
    const port = await listen(server);
    cleanups.push(() => ws.close({ timeout: 100 }));
    expect((await refused(`ws://127.0.0.1:${port}/echo`)).status).toBe(418);
  });

  it("serves two endpoints with their own options on one server", async () => {
    const app = express();
    const chat = expressWebSocket({ subprotocols: ["chat"] });
    const feed = expressWebSocket({ maxMessageSize: 16 });
    app.get("/chat", chat.handler((conn) => void conn.send(`chat ${conn.protocol}`)));
    app.get("/feed", feed.handler((conn) => conn.onMessage((data) => void conn.send(data))));
    const server = createServer(app);
    chat.attach(server);
    feed.attach(server);
    const port = await listen(server);
    cleanups.push(() => chat.close({ timeout: 100 }), () => feed.close({ timeout: 100 }));
    const a = await open(`ws://127.0.0.1:${port}/chat`, "chat");
    expect((await nextMessage(a.ws)).data.toString()).toBe("chat chat");
    const b = await open(`ws://127.0.0.1:${port}/feed`);
    b.ws.send("x".repeat(17));
    expect((await closed(b.ws)).code).toBe(1009);
    expect([chat.size, feed.stats().handshakes.accepted]).toEqual([1, 1]);
    a.ws.terminate();
  });
});
