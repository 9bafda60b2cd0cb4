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
import { nodeHttp, overrideNodeHttpSupport } from "../../core/upgrade/node-compat.js";
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
