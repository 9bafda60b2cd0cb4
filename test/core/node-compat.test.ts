/**
 * Node's undocumented HTTP internals behind core/upgrade/node-compat.ts: the probes find them on this
 * Node (npm run test:versions runs this on Node 22 and 24 too), and each fallback keeps the server up.
 */
import * as net from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import express from "express";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { websocket } from "../../adapters/express.js";
import { nodeHttp, overrideNodeHttpSupport, peerAddress } from "../../core/upgrade/node-compat.js";
import { Duplex } from "node:stream";
import { handshake, open, nextMessage, readAll } from "../helpers/client.js";

describe("Node HTTP internals", () => {
  test("the probes find assignSocket/detachSocket and the response in flight on this Node", () => {
    expect(nodeHttp).toEqual({ bindResponse: true, responseInFlight: true });
  });
});

describe("fallbacks when a probe fails", () => {
  let server: Server | null = null;
  let restore: (() => void) | null = null;
  afterEach(async () => {
    restore?.();
    restore = null;
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = null;
  });

  async function start(): Promise<{ port: number; errors: Error[] }> {
    const app = express();
    const ws = websocket({ pingInterval: 0, logger: false });
    const errors: Error[] = [];
    ws.onError((error) => void errors.push(error));
    app.get("/slow", (_req, res) => void setTimeout(() => res.send("slow answer"), 50));
    app.get("/echo", ws.handler((connection) => connection.onMessage((data) => connection.send(data))));
    server = createServer(app);
    ws.attach(server);
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    return { port: (server.address() as AddressInfo).port, errors };
  }

  test("without the response in flight, an upgrade pipelined behind a slow request closes the connection; the server stays up", async () => {
    restore = overrideNodeHttpSupport({ responseInFlight: false });
    const { port } = await start();
    const socket = net.connect(port, "127.0.0.1");
    socket.write(`GET /slow HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n${handshake("/echo", port)}`);
    const answer = await readAll(socket);
    expect(answer).not.toContain("101 Switching Protocols");
    const client = await open(`ws://127.0.0.1:${port}/echo`);
    client.ws.send("still here");
    expect((await nextMessage(client.ws)).data.toString()).toBe("still here");
    client.ws.close();
  });

  test("without assignSocket, a routed upgrade is answered 500 and reported as an internal fault", async () => {
    restore = overrideNodeHttpSupport({ bindResponse: false });
    const { port, errors } = await start();
    const socket = net.connect(port, "127.0.0.1");
    socket.write(handshake("/echo", port));
    const answer = await readAll(socket);
    expect(answer).toMatch(/^HTTP\/1\.1 500 /);
    expect(errors.map((error) => (error as { code?: string }).code)).toEqual(["ERR_WSMOUNT_INTERNAL"]);
  });
});

describe("the peer's address", () => {
  test("is read without leaving the peer's name cached on the socket, and equals remoteAddress", async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const accepted = new Promise<net.Socket>((resolve) => server.once("connection", resolve));
    const client = net.connect((server.address() as AddressInfo).port, "127.0.0.1");
    const socket = await accepted;
    try {
      // The first socket checks the handle against remoteAddress (and caches on that one socket only).
      expect(peerAddress(socket)).toBe("127.0.0.1");
      const second = new Promise<net.Socket>((resolve) => server.once("connection", resolve));
      const other = net.connect((server.address() as AddressInfo).port, "127.0.0.1");
      const socket2 = await second;
      expect(peerAddress(socket2)).toBe("127.0.0.1");
      expect((socket2 as net.Socket & { _peername?: unknown })._peername).toBeUndefined();
      expect(socket2.remoteAddress).toBe("127.0.0.1");
      other.destroy();
      socket2.destroy();
    } finally {
      client.destroy();
      socket.destroy();
      server.close();
    }
  });

  test("falls back to remoteAddress for a socket without a TCP handle", () => {
    const duplex = Object.assign(new Duplex({ read() {}, write: (_c, _e, callback) => callback() }), { remoteAddress: "10.0.0.1" });
    expect(peerAddress(duplex as unknown as net.Socket)).toBe("10.0.0.1");
  });
});
