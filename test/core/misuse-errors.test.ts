/**
 * Misuse fails at once, with an error that names the fix: the app instead of its server, attach without
 * a server, the node adapter's path as a string, a Fastify WebSocket route declared before the plugin,
 * and the option names of `ws` (and socket.io) passed to wsmount.
 */
import express from "express";
import Fastify, { type FastifyInstance } from "fastify";
import Koa from "koa";
import { createServer, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { websocket as expressWebSocket } from "../../adapters/express.js";
import fastifyWebSocket from "../../adapters/fastify.js";
import { websocket as koaWebSocket } from "../../adapters/koa.js";
import { websocket as nodeWebSocket } from "../../adapters/node.js";
import { createEndpoint, InvalidOptionError, type Connection } from "../../core/index.js";

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a throw");
}

const echo = (conn: Connection): void => {
  conn.onMessage((data) => conn.send(data));
};

describe("attach() refuses what is not the HTTP server, and says which call fixes it", () => {
  it("an Express app: attach the server that app.listen() returned", () => {
    const app = express();
    const error = errorOf(() => expressWebSocket().attach(app as unknown as Server));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toMatch(/^wsmount: ws\.attach\(server\) got the Express app, not its HTTP server/);
    expect(error.message).toContain("const server = app.listen(3000); ws.attach(server)");
  });

  it("a Koa app: attach the server that app.listen() returned", () => {
    const error = errorOf(() => koaWebSocket().attach(new Koa() as unknown as Server));
    expect(error.message).toMatch(/got the Koa app, not its HTTP server/);
    expect(error.message).toContain("ws.attach(server)");
  });

  it("a Fastify instance: register the plugin instead", async () => {
    const app = Fastify();
    try {
      const error = errorOf(() => createEndpoint().attach(app as unknown as Server));
      expect(error.message).toMatch(/got a Fastify instance; on Fastify, register the plugin instead/);
      expect(error.message).toContain("await app.register(websocket)");
    } finally {
      await app.close();
    }
  });

  it("nothing at all, null, or a port", () => {
    const ws = expressWebSocket();
    expect(errorOf(() => (ws.attach as () => unknown)()).message).toMatch(
      /^wsmount: ws\.attach\(server\) needs the HTTP server that app\.listen\(\) returned \(or http\.createServer\(\)\); got undefined/,
    );
    expect(errorOf(() => ws.attach(null as never)).message).toMatch(/got null/);
    expect(errorOf(() => ws.attach(3000 as never)).message).toMatch(/got the number 3000 \(a port\? pass the server that listens on it\)/);
    expect(errorOf(() => ws.attach({} as never)).message).toMatch(/needs an HTTP server \(node:http or node:https\); got an object \(Object\)/);
  });

  it("a path or a handler where the options go: the route belongs to the framework", () => {
    const server = createServer();
    const ws = expressWebSocket();
    const path = errorOf(() => ws.attach(server, "/echo" as never));
    expect(path.message).toMatch(/takes options as an object \(\{ shouldHandle \}\); got "\/echo"/);
    expect(path.message).toContain('app.get("/echo", ws.handler(onConnection))');
    const option = errorOf(() => ws.attach(server, { path: "/echo" } as never));
    expect(option.message).toMatch(/has one option, "shouldHandle"; got "path"\. The path belongs to the framework's route/);
  });

  it("still takes an HTTP server, attached once", () => {
    const server = createServer();
    const ws = expressWebSocket();
    expect(ws.attach(server)).toBe(ws);
    expect(ws.attach(server, { shouldHandle: () => true })).toBe(ws);
    ws.detach();
  });
});

describe("wsmount/node attach(server, { path }, onConnection)", () => {
  it("a path as a string: the same call with the path in an object", () => {
    const error = errorOf(() => nodeWebSocket().attach(createServer(), "/echo" as never, echo as never));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe('wsmount: ws.attach(server, { path }, onConnection) takes the path in an object: ws.attach(server, { path: "/echo" }, onConnection)');
  });

  it("the handler where the path goes", () => {
    const error = errorOf(() => nodeWebSocket().attach(createServer(), echo as never));
    expect(error.message).toMatch(/takes the path before the handler: ws\.attach\(server, \{ path: "\/echo" \}, onConnection\)/);
  });

  it("no server, or an app instead of a server", () => {
    expect(errorOf(() => nodeWebSocket().attach(undefined as never, { path: "/echo" }, echo)).message).toMatch(
      /^wsmount: ws\.attach\(server, \{ path \}, onConnection\) needs the HTTP server/,
    );
    expect(errorOf(() => nodeWebSocket().attach(express() as never, { path: "/echo" }, echo)).message).toMatch(/got the Express app/);
  });
});

describe("a Fastify { websocket: true } route declared before the plugin", () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it("throws as it is declared, naming the route and the fix", () => {
    app = Fastify();
    const error = errorOf(() => app!.get("/echo", { websocket: true }, echo));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe(
      'wsmount: the { websocket: true } route GET /echo was declared before the wsmount plugin was registered on this Fastify instance; register it first, and wait for it: await app.register(websocket) (import websocket from "wsmount/fastify"), then declare the route',
    );
  });

  it("throws too after a register() that was not awaited", () => {
    app = Fastify();
    void app.register(fastifyWebSocket);
    expect(() => app!.get("/echo", { websocket: true }, echo)).toThrow(/declared before the wsmount plugin was registered/);
  });

  it("throws in a plugin loaded before wsmount's", async () => {
    app = Fastify();
    app.register(async (scope) => {
      scope.get("/echo", { websocket: true }, echo);
    });
    app.register(fastifyWebSocket);
    await expect(app.ready()).rejects.toThrow(/route GET \/echo was declared before the wsmount plugin/);
  });

  it("does not throw once the plugin is registered, in the instance and in scopes made after it", async () => {
    app = Fastify();
    await app.register(fastifyWebSocket);
    app.get("/echo", { websocket: true }, echo);
    app.register(async (scope) => {
      scope.get("/scoped", { websocket: true }, echo);
    });
    app.get("/plain", async () => "plain");
    await app.ready();
    expect(app.hasRoute({ method: "GET", url: "/scoped" })).toBe(true);
  });

  it("leaves routes without the option alone, before the plugin too", async () => {
    app = Fastify();
    app.get("/plain", async () => "plain");
    app.get("/not-ws", { websocket: false }, async () => "plain");
    await app.register(fastifyWebSocket);
    expect((await app.inject({ method: "GET", url: "/not-ws" })).body).toBe("plain");
  });
});

describe("ws (and socket.io) option names: the error says which wsmount option does the job", () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ["maxPayload", 1024, /^wsmount: unknown option "maxPayload" \(an option of ws\); in wsmount it is "maxMessageSize"/],
    ["perMessageDeflate", true, /^wsmount: unknown option "perMessageDeflate" \(an option of ws\); in wsmount it is "compression"/],
    ["verifyClient", () => true, /^wsmount: unknown option "verifyClient" \(an option of ws\); in wsmount it is "authenticate" .* or "checkOrigin"/],
    ["handleProtocols", () => "x", /in wsmount it is "subprotocols"/],
    ["clientTracking", true, /wsmount needs nothing: it always tracks its connections/],
    ["noServer", true, /wsmount needs nothing: it mounts on your framework's routes/],
    ["path", "/echo", /wsmount needs nothing: it mounts on your framework's routes.*ws\.attach\(server, \{ path: "\/echo" \}, onConnection\)/],
    ["maxHttpBufferSize", 1e6, /\(an option of socket\.io\); in wsmount it is "maxMessageSize"/],
    ["pingTimeout", 5000, /\(an option of socket\.io\); in wsmount it is "pongTimeout"/],
  ];

  it.each(cases)("%s, through every adapter", async (name, value, message) => {
    const options = { [name]: value } as never;
    for (const make of [expressWebSocket, koaWebSocket, nodeWebSocket, createEndpoint]) {
      const error = errorOf(() => make(options));
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).option).toBe(name);
      expect(error.message).toMatch(message);
    }
    const app = Fastify();
    try {
      await expect(app.register(fastifyWebSocket, options)).rejects.toThrow(message);
    } finally {
      await app.close().catch(() => {});
    }
  });

  it("a near miss of a wsmount option: did you mean", () => {
    expect(errorOf(() => expressWebSocket({ pingIntervall: 5 } as never)).message).toBe('wsmount: unknown option "pingIntervall"; did you mean "pingInterval"?');
    expect(errorOf(() => expressWebSocket({ maxmessagesize: 5 } as never)).message).toBe('wsmount: unknown option "maxmessagesize"; did you mean "maxMessageSize"?');
  });

  it("anything else: the list of options", () => {
    const error = errorOf(() => expressWebSocket({ frobnicate: 1 } as never));
    expect(error.message).toMatch(/^wsmount: unknown option "frobnicate"; the options are handshakeTimeout, pingInterval, .*maxPendingAcks\b/);
  });

  it("Fastify's own register options are not the endpoint's", async () => {
    const app = Fastify();
    try {
      await app.register(fastifyWebSocket, { prefix: "/ws", logLevel: "warn", logSerializers: {} } as never);
      await app.ready();
    } finally {
      await app.close();
    }
  });
});
