/**
 * ws-compat: the private fields of `ws` that wsmount reads are checked on the first connection, and
 * everything works on ws's public API when they are not what wsmount expects. `npm run
 * test:ws-versions` runs this file (with others) against the oldest and newest ws 8 that the package
 * accepts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import WebSocket, * as wsModule from "ws";
import type { Connection, EndpointOptions } from "../../core/index.js";
import type { SocketLike } from "../../core/types.js";
import { adopt, frame, hasExpectedShape, ownFrame, setInternals, setWsFramer, usingInternals, usingWsFramer } from "../../core/ws-compat.js";
import { mountedPerTest, mounts, type Mounted } from "../helpers/mounts.js";
import { nextMessage, open, until, closed } from "../helpers/client.js";
import { RawClient, type ServerEvent } from "../helpers/raw-client.js";

const KiB = 1024;

/** The version of the `ws` this file runs against (the one `test:ws-versions` installed, or ours). */
function wsVersion(): string {
  const dir = process.env.WSMOUNT_WS_DIR;
  const path = dir === undefined ? createRequire(import.meta.url).resolve("ws/package.json") : join(dir, "package.json");
  return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
}

function fakeWs(overrides: Record<string, unknown> = {}): SocketLike {
  return {
    readyState: 1,
    bufferedAmount: 0,
    protocol: "",
    extensions: "",
    _socket: { write() {}, cork() {}, uncork() {}, bytesWritten: 0, bytesRead: 0, writableLength: 0, destroyed: false },
    _sender: { _state: 0, _queue: [], _bufferedBytes: 0 },
    _extensions: {},
    ...overrides,
  } as unknown as SocketLike;
}

describe(`ws-compat with ws ${wsVersion()}`, () => {
  const { start, cleanup } = mountedPerTest("node");

  it("runs against the ws that test:ws-versions installed", () => {
    const dir = process.env.WSMOUNT_WS_DIR;
    if (dir === undefined) return;
    // The module the tests (and wsmount) import is the installed one, not the project's own copy.
    expect(WebSocket).toBe(createRequire(join(dir, "index.js"))(dir));
    expect(wsVersion()).toBe(process.env.WSMOUNT_WS_EXPECT ?? wsVersion());
  });

  it.skipIf(process.env.WSMOUNT_WS_INTERNALS === "0")("finds the private fields it expects on the first connection, and uses them", async () => {
    setInternals(undefined);
    let conn: Connection<any> | undefined;
    const app = await start({}, (c) => void (conn = c));
    expect(usingInternals()).toBeUndefined();
    const { ws } = await open(app.url());
    cleanup.push(() => ws.terminate());
    await until(() => conn !== undefined, "the connection");
    expect(usingInternals()).toBe(true);
    expect(usingWsFramer()).toBe(true);
    conn!.send("hello");
    expect((await nextMessage(ws)).data.toString()).toBe("hello");
    // Byte counts come from the socket.
    expect(app.endpoint.stats().bytesOut).toBeGreaterThan(5);
  });

  it("accepts ws 8's shape and refuses any other", () => {
    expect(hasExpectedShape(fakeWs())).toBe(true);
    expect(hasExpectedShape(fakeWs({ _extensions: { "permessage-deflate": { params: { server_no_context_takeover: true } } } }))).toBe(true);
    expect(hasExpectedShape(fakeWs({ _sender: undefined }))).toBe(false);
    expect(hasExpectedShape(fakeWs({ _socket: null }))).toBe(false);
    expect(hasExpectedShape(fakeWs({ _sender: { _state: 0, _queue: new Set(), _bufferedBytes: 0 } }))).toBe(false);
    expect(hasExpectedShape(fakeWs({ _sender: { _state: "idle", _queue: [], _bufferedBytes: 0 } }))).toBe(false);
    expect(hasExpectedShape(fakeWs({ _sender: { _state: 0, _queue: [] } }))).toBe(false);
    expect(hasExpectedShape(fakeWs({ _extensions: { "permessage-deflate": {} } }))).toBe(false);
    expect(hasExpectedShape(fakeWs({ _extensions: null }))).toBe(false);
    // bufferedAmount no longer the socket's buffer plus the sender's: the fields mean something else.
    expect(hasExpectedShape(fakeWs({ bufferedAmount: 10 }))).toBe(false);
  });

  it("warns once and takes the public path when the first connection's ws has another shape", () => {
    const warnings: Array<{ message: string; code: unknown }> = [];
    const emit = process.emitWarning;
    process.emitWarning = ((warning: string, options?: { code?: string }) => void warnings.push({ message: warning, code: options?.code })) as typeof process.emitWarning;
    try {
      setInternals(undefined);
      adopt(fakeWs({ _sender: undefined }));
      adopt(fakeWs({ _sender: undefined }));
      expect(usingInternals()).toBe(false);
      setInternals(undefined);
      adopt(fakeWs({ _socket: undefined }));
      expect(usingInternals()).toBe(false);
      expect(warnings.map((w) => w.code)).toEqual(["WSMOUNT_WS_COMPAT"]);
      expect(warnings[0]!.message).toContain("public API");
    } finally {
      process.emitWarning = emit;
      setInternals(undefined);
    }
  });

  it("frames broadcasts as ws does, and its own framer agrees for every length class", async () => {
    const Sender = (wsModule as unknown as { Sender: { frame(data: Buffer, options: object): Buffer[] } }).Sender;
    for (const length of [0, 1, 125, 126, 65_535, 65_536, 70_000]) {
      for (const [binary, rsv1] of [[false, false], [true, false], [true, true]] as const) {
        const payload = Buffer.alloc(length, length % 251);
        const expected = Buffer.concat(Sender.frame(payload, { fin: true, mask: false, opcode: binary ? 2 : 1, readOnly: true, rsv1 }));
        expect(ownFrame(payload, binary, rsv1).equals(expected), `length ${length}`).toBe(true);
        expect(frame(payload, binary, rsv1).equals(expected), `length ${length}`).toBe(true);
      }
    }
    // Broadcasts framed by wsmount's own framer arrive whole.
    setWsFramer(false);
    try {
      const app = await start({ maxMessageSize: 1024 * KiB }, () => {});
      const { ws } = await open(app.url());
      cleanup.push(() => ws.terminate());
      await until(() => app.endpoint.size === 1, "the connection");
      for (const length of [125, 126, 65_536]) {
        app.endpoint.all().send(Buffer.alloc(length, 7));
        expect((await nextMessage(ws)).data).toEqual(Buffer.alloc(length, 7));
      }
    } finally {
      setWsFramer(true);
    }
  });
});

describe.each(mounts)("ws's public API only, through $name", (mount) => {
  const { start, cleanup } = mountedPerTest(mount.name);
  beforeAll(() => setInternals(false));
  afterAll(() => setInternals(undefined));

  async function serve(options: EndpointOptions<any>, clientOptions?: WebSocket.ClientOptions) {
    const conns: Connection<any>[] = [];
    const app: Mounted = await start(options, (c) => {
      conns.push(c);
      c.onMessage((data, isBinary) => void c.send(data, { binary: isBinary }));
    });
    const clients = [];
    for (let i = 0; i < 3; i++) {
      const { ws } = await open(app.url(), undefined, clientOptions);
      cleanup.push(() => ws.terminate());
      clients.push(ws);
    }
    await until(() => conns.length === 3, "the connections");
    return { app, conns, clients };
  }

  it("treats an option given as undefined as not given (bytes stay binary, as on wsmount's own engine)", async () => {
    const { clients, conns } = await serve({});
    conns[0]!.send(Buffer.from([7, 8]), { binary: undefined, compress: undefined });
    const reply = await nextMessage(clients[0]!);
    expect([reply.isBinary, [...reply.data]]).toEqual([true, [7, 8]]);
    conns[0]!.send("text", { binary: undefined });
    expect((await nextMessage(clients[0]!)).isBinary).toBe(false);
  });

  it("echoes text and binary", async () => {
    const { clients } = await serve({});
    expect(usingInternals()).toBe(false);
    const [ws] = clients;
    ws!.send("text");
    expect((await nextMessage(ws!)).data.toString()).toBe("text");
    ws!.send(Buffer.from([1, 2, 3]));
    const reply = await nextMessage(ws!);
    expect([reply.isBinary, [...reply.data]]).toEqual([true, [1, 2, 3]]);
  });

  it("broadcasts to every connection, plain and compressed", async () => {
    const { app, clients } = await serve({ compression: { threshold: 64 } }, { perMessageDeflate: true });
    const large = "broadcast ".repeat(100);
    app.endpoint.all().send("small");
    app.endpoint.all().send(large);
    app.endpoint.emit("tick", { n: 1 });
    for (const ws of clients) {
      expect((await nextMessage(ws)).data.toString()).toBe("small");
      expect((await nextMessage(ws)).data.toString()).toBe(large);
      expect((await nextMessage(ws)).data.toString()).toContain("tick");
    }
  });

  it("applies the compression threshold to sends and broadcasts", async () => {
    let conn: Connection<any> | undefined;
    const app = await start({ compression: { threshold: 1024 } }, (c) => void (conn = c));
    const client = await RawClient.connect(app.port, { extensions: "permessage-deflate; client_max_window_bits" });
    cleanup.push(() => client.destroy());
    await until(() => conn !== undefined, "the connection");
    conn!.send("s".repeat(1023));
    conn!.send("l".repeat(1024));
    app.endpoint.all().send("s".repeat(1023));
    app.endpoint.all().send("l".repeat(1024));
    const compressed: boolean[] = [];
    for (let i = 0; i < 4; i++) compressed.push(((await client.next()) as Extract<ServerEvent, { kind: "message" }>).compressed);
    expect(compressed).toEqual([false, true, false, true]);
  });

  it("sends what waited behind a streamed message after it, and counts it in bufferedAmount", async () => {
    const { app, conns, clients } = await serve({});
    const [conn] = conns;
    const [ws] = clients;
    const writer = conn!.stream({ binary: false });
    writer.write("one ");
    conn!.send("after");
    app.endpoint.to(conn!.id).send("broadcast");
    expect(conn!.bufferedAmount).toBeGreaterThanOrEqual(14);
    writer.end("message");
    expect((await nextMessage(ws!)).data.toString()).toBe("one message");
    expect((await nextMessage(ws!)).data.toString()).toBe("after");
    expect((await nextMessage(ws!)).data.toString()).toBe("broadcast");
  });

  it("applies maxBufferedAmount and the backpressure policy", async () => {
    const { app, conns, clients } = await serve({ backpressure: "close", writeBufferSize: KiB, maxMessageSize: 64 * KiB, maxBufferedAmount: 64 * KiB, writeTimeout: 0 });
    const [conn] = conns;
    const done = closed(clients[0]!);
    conn!.stream();
    for (let i = 0; i < 5; i++) conn!.send(Buffer.alloc(16 * KiB));
    expect((await done).code).toBe(1013);
    expect(app.endpoint.stats().closedBy.backpressure).toBe(1);
  });

  it("still cuts off a consumer that stops reading at the write timeout (progress judged from bufferedAmount)", async () => {
    let conn: Connection<any> | undefined;
    const reasons: string[] = [];
    const app = await start({ writeTimeout: 200, maxBufferedAmount: 64 * 1024 * KiB }, (c) => void (conn = c));
    app.endpoint.onClose((_c, _code, reason) => void reasons.push(reason));
    const client = await RawClient.connect(app.port);
    client.socket.pause();
    cleanup.push(() => client.destroy());
    await until(() => conn !== undefined, "the connection");
    for (let i = 0; i < 64; i++) conn!.send(Buffer.alloc(256 * KiB));
    await until(() => reasons.length === 1, "the write timeout");
    expect(reasons[0]).toContain("write timeout");
    expect(app.endpoint.stats().closedBy.writeTimeout).toBe(1);
  });
});
