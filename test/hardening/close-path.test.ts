/**
 * The close path wsmount runs itself (core/engine.ts): every way a connection ends gives the close code
 * and events it gave under ws's own WebSocket, and a normal close makes Node create no error objects.
 * Node creates one (with a stack trace, the expensive part) each time a stream that already finished
 * or was destroyed is ended again; ws's own close path does that up to three times per connection. The
 * detector below counts those calls on the server's sockets and on server-side receivers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Duplex, Writable } from "node:stream";
import type { Socket } from "node:net";
import type { Connection } from "../../core/index.js";
import { probedEngineParts, setInternals } from "../../core/ws-compat.js";
import { Engine } from "../../core/engine.js";
import { createServer as createTcpServer, connect as connectTcp } from "node:net";
import { mountedPerTest, type Mounted } from "../helpers/mounts.js";
import { closed, open, until } from "../helpers/client.js";
import { RawClient } from "../helpers/raw-client.js";
import { buildFrame } from "../helpers/frames.js";

type Endable = Writable & { _isServer?: boolean };

/** Counts `end()` calls on finished or destroyed streams of the server side. */
class EndAfterEndDetector {
  count = 0;
  readonly #serverSockets = new WeakSet<object>();
  readonly #duplexEnd = Duplex.prototype.end;
  readonly #writableEnd = Writable.prototype.end;

  watch(server: Mounted["server"], sockets: Socket[]): void {
    server.on("connection", (socket: Socket) => {
      this.#serverSockets.add(socket);
      sockets.push(socket);
    });
  }

  install(): void {
    const detector = this;
    const wrap = (original: (...args: unknown[]) => unknown) =>
      function (this: Endable, ...args: unknown[]): unknown {
        const serverSide = detector.#serverSockets.has(this) || (this.constructor.name === "Receiver" && this._isServer === true);
        if (serverSide && (this.writableFinished || this.destroyed)) detector.count++;
        return original.apply(this, args);
      };
    Duplex.prototype.end = wrap(this.#duplexEnd as never) as never;
    Writable.prototype.end = wrap(this.#writableEnd as never) as never;
  }

  uninstall(): void {
    Duplex.prototype.end = this.#duplexEnd;
    Writable.prototype.end = this.#writableEnd;
  }
}

const ROUNDS = 20;

describe("the close path", () => {
  const { start, cleanup } = mountedPerTest("node");
  const detector = new EndAfterEndDetector();
  beforeAll(() => detector.install());
  afterAll(() => detector.uninstall());

  async function serve(): Promise<{ app: Mounted; sockets: Socket[]; connections: Array<Connection<any>>; closes: Array<[number, string]> }> {
    const sockets: Socket[] = [];
    const connections: Array<Connection<any>> = [];
    const closes: Array<[number, string]> = [];
    const app = await start({}, (conn) => {
      connections.push(conn);
      conn.onClose((code, reason) => closes.push([code, reason]));
    });
    detector.watch(app.server, sockets);
    return { app, sockets, connections, closes };
  }

  it("the detector counts an end() on a finished server socket (it can fail)", async () => {
    const { app, sockets, connections } = await serve();
    const { ws } = await open(app.url());
    cleanup.push(() => ws.terminate());
    await until(() => connections.length === 1, "the connection");
    const socket = sockets[0]!;
    socket.end();
    await until(() => socket.writableFinished, "the socket's end");
    const before = detector.count;
    socket.end();
    expect(detector.count).toBe(before + 1);
  });

  it.skipIf(process.env.WSMOUNT_WS_INTERNALS === "0")(
    "client-initiated, server-initiated, peer-reset and terminated closes: ws's codes, no end() after end",
    async () => {
      const { app, connections, closes } = await serve();
      const before = detector.count;
      for (let i = 0; i < ROUNDS; i++) {
        // The client closes: 1000 with its reason on both sides.
        const a = await open(app.url());
        await until(() => connections.length === 4 * i + 1, "connection a");
        a.ws.close(1000, "bye");
        expect(await closed(a.ws)).toEqual({ code: 1000, reason: "bye" });
        // The server closes: the client sees the code and reason.
        const b = await open(app.url());
        await until(() => connections.length === 4 * i + 2, "connection b");
        connections[4 * i + 1]!.close(4000, "server says bye");
        expect(await closed(b.ws)).toEqual({ code: 4000, reason: "server says bye" });
        // The peer's TCP connection goes away without a close frame: 1006.
        const c = await RawClient.connect(app.port);
        await until(() => connections.length === 4 * i + 3, "connection c");
        c.destroy();
        // The server terminates: the client sees 1006.
        const d = await open(app.url());
        await until(() => connections.length === 4 * i + 4, "connection d");
        connections[4 * i + 3]!.terminate();
        expect((await closed(d.ws)).code).toBe(1006);
        await until(() => closes.length === 4 * (i + 1), "the server's close events");
      }
      expect(closes.slice(0, 4)).toEqual([
        [1000, "bye"],
        [4000, "server says bye"],
        [1006, ""],
        [1006, ""],
      ]);
      expect(app.endpoint.size).toBe(0);
      expect(detector.count - before).toBe(0);
    },
  );

  it("a peer that pings and never reads is cut once 60 pongs wait unwritten, the others unaffected", async () => {
    const closes: Array<[number, string]> = [];
    const app = await start({ pingInterval: 0, writeTimeout: 0, maxBufferedAmount: 1 << 30, maxMessageSize: 1 << 30 }, (conn) => {
      conn.onClose((code, reason) => closes.push([code, reason]));
    });
    const bystander = await open(app.url());
    cleanup.push(() => bystander.ws.terminate());
    const client = await RawClient.connect(app.port);
    cleanup.push(() => client.destroy());
    client.socket.pause();
    client.socket.removeAllListeners("data");
    const ping = buildFrame({ opcode: 0x9, payload: Buffer.alloc(125, 1) });
    const batch = Buffer.concat(Array.from({ length: 1000 }, () => ping));
    // Each ping asks for a 131-byte pong; unread, they fill both sockets' buffers, then stay queued. The
    // client keeps at most 4 MiB of its own pings queued (a loaded machine reads them more slowly).
    const flooded = () => closes.length > 0 || client.socket.destroyed;
    while (!flooded()) {
      if (client.socket.writableLength < 4 * 1024 * 1024) client.socket.write(batch);
      else await until(() => flooded() || client.socket.writableLength < 4 * 1024 * 1024, "room in the client's buffer", 20_000);
    }
    await until(() => closes.length === 1, "the flooding connection's close", 20_000);
    expect(closes[0]![0]).toBe(1006);
    expect(bystander.ws.readyState).toBe(bystander.ws.OPEN);
    expect(app.endpoint.size).toBe(1);
  }, 30_000);

  it("close() without a code sends 1000, as documented", async () => {
    const { app, connections } = await serve();
    const a = await open(app.url());
    await until(() => connections.length === 1, "the connection");
    connections[0]!.close();
    expect((await closed(a.ws)).code).toBe(1000);
  });

  it("keeps the peer's close reason in a buffer of its own, not a view of a larger one", async () => {
    const server = createTcpServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const accepted = new Promise<Socket>((resolve) => server.once("connection", resolve));
    const peer = connectTcp((server.address() as { port: number }).port, "127.0.0.1");
    const socket = await accepted;
    try {
      const reasons: Buffer[] = [];
      const engine = new Engine(probedEngineParts!, socket, Buffer.alloc(0), "", {}, { maxPayload: 1024, maxFragments: 16, closeTimeout: 1000, maxPendingPongs: 60 });
      engine.attach({ _received() {}, _error() {}, _pong() {}, _closedBySocket: (_code, reason) => void reasons.push(reason) });
      peer.write(buildFrame({ opcode: 0x8, payload: Buffer.concat([Buffer.from([0x0f, 0xa1]), Buffer.from("bye")]) }));
      peer.on("data", () => {});
      peer.on("end", () => peer.end());
      await until(() => reasons.length === 1, "the close");
      expect(reasons[0]!.toString()).toBe("bye");
      expect(reasons[0]!.buffer.byteLength).toBe(3);
    } finally {
      peer.destroy();
      socket.destroy();
      server.close();
    }
  });

  describe("on ws's own WebSocket (the fallback path)", () => {
    beforeAll(() => setInternals(false));
    afterAll(() => setInternals(undefined));

    it("gives the same codes", async () => {
      const { app, connections, closes } = await serve();
      const a = await open(app.url());
      await until(() => connections.length === 1, "connection a");
      a.ws.close(1000, "bye");
      expect(await closed(a.ws)).toEqual({ code: 1000, reason: "bye" });
      const b = await open(app.url());
      await until(() => connections.length === 2, "connection b");
      connections[1]!.close(4000, "server says bye");
      expect(await closed(b.ws)).toEqual({ code: 4000, reason: "server says bye" });
      await until(() => closes.length === 2, "the server's close events");
      expect(closes).toEqual([
        [1000, "bye"],
        [4000, "server says bye"],
      ]);
    });
  });
});
