import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { maskedFrame, Opcode, repeatFrame, SMALL_PAYLOAD, WireConnection } from "../load/wire.js";

interface Frame {
  opcode: number;
  rsv1: boolean;
  payload: string | null;
  length: number;
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  // Last opened, first closed: clients before the servers that wait for them.
  for (const close of closers.splice(0).reverse()) await close();
});

async function wsServer(options: ConstructorParameters<typeof WebSocketServer>[0] = {}): Promise<{ port: number; wss: WebSocketServer }> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, ...options });
  await once(wss, "listening");
  closers.push(() => new Promise((resolve) => {
    for (const client of wss.clients) client.terminate();
    wss.close(() => resolve());
  }));
  return { port: (wss.address() as AddressInfo).port, wss };
}

function connect(port: number, extra: { deflate?: boolean; path?: string } = {}): Promise<{ wire: WireConnection; frames: Frame[] }> {
  const wire = new WireConnection({ port, path: extra.path ?? "/", ...(extra.deflate ? { deflate: true } : {}) });
  const frames: Frame[] = [];
  wire.onFrame = (opcode, rsv1, payload, length) => frames.push({ opcode, rsv1, payload: payload?.toString() ?? null, length });
  closers.push(async () => wire.destroy());
  return new Promise((resolve, reject) => {
    wire.onOpen = () => resolve({ wire, frames });
    wire.onClosed = (error) => reject(error ?? new Error("closed before open"));
  });
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("WireConnection against a ws server", () => {
  it("completes the handshake and exchanges masked text and binary frames with an echo server", async () => {
    const { port, wss } = await wsServer();
    wss.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
    const { wire, frames } = await connect(port);
    wire.write(repeatFrame(maskedFrame(Opcode.text, "héllo"), 3));
    wire.write(maskedFrame(Opcode.binary, Buffer.from([1, 2, 3])));
    await until(() => frames.length === 4, "four echoes");
    expect(frames.slice(0, 3)).toEqual(Array(3).fill({ opcode: Opcode.text, rsv1: false, payload: "héllo", length: 6 }));
    expect(frames[3]).toMatchObject({ opcode: Opcode.binary, length: 3 });
  });

  it("counts a payload larger than SMALL_PAYLOAD without handing it over, whatever the chunking", async () => {
    const { port, wss } = await wsServer();
    const big = Buffer.alloc(65_536, 7);
    wss.on("connection", (ws) => {
      ws.send(big);
      ws.send("after");
    });
    const { frames } = await connect(port);
    await until(() => frames.length === 2, "two frames");
    expect(frames[0]).toEqual({ opcode: Opcode.binary, rsv1: false, payload: null, length: big.length });
    expect(big.length).toBeGreaterThan(SMALL_PAYLOAD);
    expect(frames[1]).toMatchObject({ payload: "after" });
  });

  it("answers pings with pongs carrying the same payload", async () => {
    const { port, wss } = await wsServer();
    const pong = new Promise<Buffer>((resolve) => wss.on("connection", (ws) => {
      ws.on("pong", resolve);
      ws.ping("beat");
    }));
    await connect(port);
    expect((await pong).toString()).toBe("beat");
  });

  it("negotiates permessage-deflate and reports compressed frames with RSV1", async () => {
    const { port, wss } = await wsServer({ perMessageDeflate: { threshold: 0 } });
    wss.on("connection", (ws) => ws.send("x".repeat(300)));
    const { wire, frames } = await connect(port, { deflate: true });
    expect(wire.extensions).toContain("permessage-deflate");
    await until(() => frames.length === 1, "one frame");
    expect(frames[0]!.rsv1).toBe(true);
    expect(frames[0]!.length).toBeLessThan(300);
  });

  it("runs the closing handshake: the server sees code 1000 and the socket closes", async () => {
    const { port, wss } = await wsServer();
    const closed = new Promise<number>((resolve) => wss.on("connection", (ws: WebSocket) => ws.on("close", resolve)));
    const { wire } = await connect(port);
    const gone = new Promise<void>((resolve) => (wire.onClosed = () => resolve()));
    wire.close();
    expect(await closed).toBe(1000);
    await gone;
  });

  it("reports a refused handshake with its status line", async () => {
    const { port } = await wsServer({ verifyClient: () => false });
    await expect(connect(port)).rejects.toThrow(/401/);
  });
});

describe("WireConnection parsing", () => {
  /** A raw server that accepts the upgrade, then writes `bytes` in pieces of `piece` bytes, 2 ms apart. */
  async function trickle(bytes: Buffer, piece: number): Promise<number> {
    const server = createServer((socket: Socket) => {
      socket.setNoDelay(true);
      socket.once("data", async (request: Buffer) => {
        const key = /sec-websocket-key: (.+)\r\n/i.exec(request.toString())![1]!;
        const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
        for (let offset = 0; offset < bytes.length; offset += piece) {
          await new Promise((resolve) => setTimeout(resolve, 2));
          socket.write(bytes.subarray(offset, offset + piece));
        }
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    closers.push(() => new Promise((resolve) => server.close(() => resolve())));
    return (server.address() as AddressInfo).port;
  }

  /** An unmasked server frame. */
  function serverFrame(opcode: number, payload: Buffer): Buffer {
    const header =
      payload.length < 126
        ? Buffer.from([0x80 | opcode, payload.length])
        : payload.length < 65_536
          ? Buffer.from([0x80 | opcode, 126, payload.length >> 8, payload.length & 0xff])
          : Buffer.concat([Buffer.from([0x80 | opcode, 127, 0, 0, 0, 0]), Buffer.from(new Uint32Array([payload.length]).buffer).reverse()]);
    return Buffer.concat([header, payload]);
  }

  it("reassembles headers and payloads split across reads (1-byte and 3-byte pieces)", async () => {
    const stream = Buffer.concat([
      serverFrame(Opcode.text, Buffer.from("first")),
      serverFrame(Opcode.text, Buffer.alloc(300, 0x61)),
      serverFrame(Opcode.binary, Buffer.alloc(SMALL_PAYLOAD + 10, 1)),
      serverFrame(Opcode.text, Buffer.from("last")),
    ]);
    for (const piece of [1, 3]) {
      const port = await trickle(piece === 1 ? stream.subarray(0, 400) : stream, piece);
      const { frames } = await connect(port);
      const expected = piece === 1 ? 2 : 4;
      await until(() => frames.length === expected, `${expected} frames in ${piece}-byte pieces`);
      expect(frames[0]).toEqual({ opcode: Opcode.text, rsv1: false, payload: "first", length: 5 });
      expect(frames[1]).toEqual({ opcode: Opcode.text, rsv1: false, payload: "a".repeat(300), length: 300 });
      if (piece === 3) {
        expect(frames[2]).toEqual({ opcode: Opcode.binary, rsv1: false, payload: null, length: SMALL_PAYLOAD + 10 });
        expect(frames[3]).toEqual({ opcode: Opcode.text, rsv1: false, payload: "last", length: 4 });
      }
    }
  });

  it("builds masked frames a ws server decodes, for every length encoding", async () => {
    const { port, wss } = await wsServer();
    const received: Buffer[] = [];
    wss.on("connection", (ws) => ws.on("message", (data: Buffer) => received.push(data)));
    const { wire } = await connect(port);
    const sizes = [0, 125, 126, 65_535, 65_536, 100_000];
    const payloads = sizes.map((size) => randomBytes(size));
    for (const payload of payloads) wire.write(maskedFrame(Opcode.binary, payload));
    await until(() => received.length === sizes.length, "all frames");
    received.forEach((data, index) => expect(data.equals(payloads[index]!)).toBe(true));
  });
});
