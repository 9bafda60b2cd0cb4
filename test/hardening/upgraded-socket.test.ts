/**
 * What the HTTP layer leaves on a socket once it carries WebSocket frames. Fastify creates its
 * node:http server with its own settings (`connectionTimeout` as the server's socket timeout,
 * `keepAliveTimeout`, `requestTimeout`), and a socket timeout on a WebSocket connection would both
 * close an idle connection the heartbeat keeps alive and re-arm a timer on every read and write. After
 * the 101 the socket must carry no timeout and no listener of the HTTP layer: exactly the state it has
 * under a plain node:http server.
 */
import type { AddressInfo, Socket } from "node:net";
import { createServer, type Server } from "node:http";
import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, test } from "vitest";
import WebSocket from "ws";
import fastifyWebSocket from "../../adapters/fastify.js";
import { websocket as nodeWebSocket } from "../../adapters/node.js";
import type { Connection } from "../../core/index.js";

/** The server's socket timeout each server is given: far shorter than the test. */
const SOCKET_TIMEOUT = 150;

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function echo(connection: Connection<any>): void {
  connection.onMessage((data, isBinary) => connection.send(data, { binary: isBinary }));
}

/** Resolves with the server-side socket of the next connection `server` accepts. */
function nextSocket(server: Server): Promise<Socket> {
  return new Promise((resolve) => server.once("connection", resolve));
}

async function fastifyServer(): Promise<Server> {
  const app: FastifyInstance = Fastify({ connectionTimeout: SOCKET_TIMEOUT });
  await app.register(fastifyWebSocket, { pingInterval: 0 });
  app.get("/echo", { websocket: true }, echo);
  await app.listen({ host: "127.0.0.1", port: 0 });
  cleanup.push(async () => {
    app.server.closeAllConnections();
    await app.close();
  });
  return app.server;
}

async function nodeServer(): Promise<Server> {
  const server = createServer((_request, response) => response.writeHead(404).end());
  server.setTimeout(SOCKET_TIMEOUT);
  const endpoint = nodeWebSocket({ pingInterval: 0 });
  endpoint.attach(server, { path: "/echo" }, echo);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanup.push(async () => {
    await endpoint.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return server;
}

async function open(server: Server): Promise<{ client: WebSocket; socket: Socket }> {
  const accepted = nextSocket(server);
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/echo`);
  cleanup.push(async () => {
    client.terminate();
  });
  await new Promise<void>((resolve, reject) => {
    client.once("open", resolve);
    client.once("error", reject);
  });
  return { client, socket: await accepted };
}

function roundTrip(client: WebSocket, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    client.once("message", (data: Buffer) => resolve(data));
    client.send(payload);
  });
}

const listenerCounts = (socket: Socket) =>
  Object.fromEntries(["data", "end", "close", "error", "timeout", "drain", "finish"].map((event) => [event, socket.listenerCount(event)]));

describe("the upgraded socket", () => {
  for (const [name, start] of [
    ["Fastify (connectionTimeout set)", fastifyServer],
    ["node:http (server.setTimeout)", nodeServer],
  ] as const) {
    test(`${name}: no socket timeout, no HTTP listeners, survives idle past the server's timeout`, async () => {
      const server = await start();
      const { client, socket } = await open(server);
      const payload = Buffer.alloc(64 * 1024, 7);
      expect((await roundTrip(client, payload)).equals(payload)).toBe(true);

      expect(socket.timeout ?? 0).toBe(0);
      expect(listenerCounts(socket)).toEqual({ data: 1, end: 2, close: 1, error: 1, timeout: 0, drain: 0, finish: 0 });
      expect((socket as Socket & { _httpMessage?: unknown })._httpMessage ?? null).toBeNull();

      let closed = false;
      client.once("close", () => {
        closed = true;
      });
      await new Promise((resolve) => setTimeout(resolve, SOCKET_TIMEOUT * 3));
      expect(closed).toBe(false);
      expect((await roundTrip(client, payload)).equals(payload)).toBe(true);
    });
  }
});
