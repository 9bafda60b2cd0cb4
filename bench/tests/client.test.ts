import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";
import { afterEach, describe, expect, it } from "vitest";
import { Client, encodeMessage } from "../load/client.js";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  // Last opened, first closed: clients before the servers that wait for them.
  for (const close of closers.splice(0).reverse()) await close();
});

async function socketIoServer(compression: boolean): Promise<number> {
  const server = createServer();
  const io = new Server(server, { perMessageDeflate: compression ? { threshold: 128 } : false });
  io.on("connection", (socket) => socket.on("echo", (data: unknown) => socket.emit("echo", data)));
  io.of("/auth")
    .use((socket, next) => next((socket.handshake.auth as { token?: string }).token === "bench-token" ? undefined : new Error("unauthorized")))
    .on("connection", () => {});
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  closers.push(() => new Promise((resolve) => io.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

function ready(client: Client): Promise<void> {
  closers.push(async () => client.destroy());
  return new Promise((resolve, reject) => {
    client.onReady = resolve;
    client.onClosed = (error) => reject(error ?? new Error(client.wire.refusal || "closed before ready"));
  });
}

describe("Client speaking socket.io's wire protocol", () => {
  async function echoes(client: Client, sends: Array<string | Buffer>): Promise<Array<{ isBinary: boolean; rsv1: boolean }>> {
    const messages: Array<{ isBinary: boolean; rsv1: boolean }> = [];
    client.onMessage = (isBinary, rsv1) => messages.push({ isBinary, rsv1 });
    for (const data of sends) client.write(encodeMessage("socket.io", "echo", data));
    const deadline = Date.now() + 5000;
    while (messages.length < sends.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 50)); // nothing extra may follow
    return messages;
  }

  it("connects and counts each echoed text and binary event once", async () => {
    const port = await socketIoServer(false);
    const client = new Client({ protocol: "socket.io", port, route: "/echo" });
    await ready(client);
    expect(await echoes(client, ["hello", Buffer.from([1, 2, 3])])).toEqual([
      { isBinary: false, rsv1: false },
      { isBinary: true, rsv1: false },
    ]);
  });

  it("with permessage-deflate, inflates the compressed handshake packets and counts compressed events", async () => {
    const port = await socketIoServer(true);
    const client = new Client({ protocol: "socket.io", port, route: "/echo", deflate: true });
    await ready(client);
    // With context takeover ws compresses every message, below the threshold too.
    expect(await echoes(client, ["x".repeat(256), "short"])).toEqual([
      { isBinary: false, rsv1: true },
      { isBinary: false, rsv1: true },
    ]);
  });

  it("is refused by namespace middleware without the token and accepted with it", async () => {
    const port = await socketIoServer(false);
    await expect(ready(new Client({ protocol: "socket.io", port, route: "/auth" }))).rejects.toThrow(/unauthorized/);
    await ready(new Client({ protocol: "socket.io", port, route: "/auth", authenticate: true }));
  });
});
