/** Regressions: each test pins a documented behaviour that an earlier version got wrong. */
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { Connection } from "../../core/index.js";
import { mountedPerTest, type Mounted } from "../helpers/mounts.js";
import { closed, open, refused, until, within, sleep } from "../helpers/client.js";
import { RawClient } from "../helpers/raw-client.js";
import { ProtocolClient } from "../helpers/protocol-client.js";

const { start, cleanup } = mountedPerTest("express");
let app: Mounted | undefined;

describe("regressions", () => {
  it("emitWithAck during a streamed message does not reject as disconnected", async () => {
    let conn!: Connection<any>;
    app = await start({}, (c) => void (conn = c));
    const client = await ProtocolClient.connect(app.url());
    cleanup.push(() => client.close());
    client.answer("q", () => "yes");
    await until(() => conn !== undefined, "conn");
    const w = conn.stream({ binary: true });
    w.write(Buffer.alloc(10));
    const answer = conn.emitWithAck("q", 1, { timeout: 2000 });
    w.end();
    await expect(answer).resolves.toBe("yes");
  });

  it("emitWithAck over writeBufferSize (connection open) does not reject as disconnected", async () => {
    let conn!: Connection<any>;
    app = await start({ writeBufferSize: 1024 }, (c) => void (conn = c));
    const client = await ProtocolClient.connect(app.url());
    cleanup.push(() => client.close());
    client.answer("q", () => "yes");
    await until(() => conn !== undefined, "conn");
    // Stop reading so the server's buffer rises above writeBufferSize.
    (client.ws as any)._socket.pause();
    for (let i = 0; i < 200 && conn.bufferedAmount <= 1024; i++) conn.send(Buffer.alloc(64 * 1024));
    expect(conn.bufferedAmount).toBeGreaterThan(1024);
    const answer = conn.emitWithAck("q", 1, { timeout: 3000 });
    (client.ws as any)._socket.resume();
    await expect(answer).resolves.toBe("yes");
  });

  it("counts one idle timeout per connection, not one per tick while it closes", async () => {
    app = await start({ idleTimeout: 100, pingInterval: 0, pongTimeout: 1000 }, () => {});
    const raw = await RawClient.connect(app.port);
    cleanup.push(() => raw.destroy());
    // The raw client never answers the close frame: ws waits pongTimeout (closeTimeout) before destroying.
    await until(() => app!.endpoint.size === 0, "server close", 4000);
    expect(app.endpoint.stats().closedBy.idleTimeout).toBe(1);
  });

  it("a connection closing after idle timeout is not also counted as a pong timeout", async () => {
    // The first ping goes out at ~20 ms and the idle close at ~300 ms; the raw client answers neither,
    // so the pong timeout (~1020 ms) always fires while the connection is closing, well before ws's
    // close timeout (pongTimeout after the close, ~1300 ms). It terminates the connection, uncounted.
    app = await start({ idleTimeout: 300, pingInterval: 20, pongTimeout: 1000, writeTimeout: 0 }, () => {});
    const closes: string[] = [];
    app.endpoint.onClose((_c, _code, reason) => void closes.push(reason));
    const raw = await RawClient.connect(app.port);
    cleanup.push(() => raw.destroy());
    const startedAt = Date.now();
    await until(() => app!.endpoint.size === 0, "server close", 4000);
    const elapsed = Date.now() - startedAt;
    expect(app.endpoint.stats().closedBy).toMatchObject({ idleTimeout: 1, pongTimeout: 0 });
    expect(closes).toEqual(["idle timeout: no message for 300 ms"]);
    // Ended by the pong timeout's termination, not by ws's close timeout.
    expect(elapsed).toBeLessThan(1300);
  });

  it("a connection closing for backpressure and then terminated by the write timeout counts once, as backpressure", async () => {
    let conn!: Connection<any>;
    app = await start({ backpressure: "close", maxMessageSize: 64 * 1024, maxBufferedAmount: 64 * 1024, writeBufferSize: 1024, writeTimeout: 1000, pingInterval: 0, pongTimeout: 10_000 }, (c) => void (conn = c));
    app.endpoint.onError(() => {});
    const raw = await RawClient.connect(app.port);
    raw.socket.pause();
    cleanup.push(() => raw.destroy());
    await until(() => conn !== undefined, "conn");
    // Fill the kernel's buffers: send while the socket keeps taking data, until it takes none for 300 ms
    // (well within the 1000 ms write timeout).
    const chunk = Buffer.alloc(64 * 1024);
    const empties = async (ms: number): Promise<boolean> => {
      for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(10)) if (conn.bufferedAmount === 0) return true;
      return false;
    };
    do conn.send(chunk);
    while (await empties(300));
    expect(conn.readyState).toBe(1);
    conn.send(chunk);
    expect(conn.readyState).toBe(2);
    expect(app.endpoint.stats().closedBy.backpressure).toBe(1);
    // The 1013 close frame waits behind data the peer never reads: the write timeout terminates the
    // closing connection long before ws's close timeout (10 s), and does not count it again.
    await until(() => app!.endpoint.size === 0, "the write timeout to terminate the closing connection", 4000);
    expect(app.endpoint.stats().closedBy).toMatchObject({ backpressure: 1, writeTimeout: 0 });
  });

  it("counts a handshake timeout in stats.handshakes.refused", async () => {
    app = await start({ handshakeTimeout: 100, authenticate: () => new Promise(() => {}) }, () => {});
    const r = await refused(app.url());
    expect(r.status).toBe(503);
    expect(app.endpoint.stats().handshakes.refused).toEqual({ timeout: 1 });
  });

  it("an upgrade whose authenticate finishes during close() is refused with 503, not opened", async () => {
    let opened = 0;
    app = await start({ authenticate: async () => (await sleep(200), {}) }, () => void opened++);
    // A peer that never answers close frames keeps the shutdown waiting.
    const slow = await RawClient.connect(app.port);
    cleanup.push(() => slow.destroy());
    await until(() => app!.endpoint.size === 1, "first open");
    opened = 0;
    const late = new WebSocket(app.url());
    cleanup.push(() => late.terminate());
    const outcome = new Promise<string>((resolve) => {
      late.once("open", () => resolve("open"));
      late.once("unexpected-response", (_q, res) => resolve(`status ${res.statusCode}`));
      late.once("error", (e) => resolve(`error ${e.message}`));
    });
    await sleep(50);
    const closing = app.endpoint.close({ timeout: 1000 });
    const result = await within(outcome, "late outcome");
    await closing;
    expect({ result, opened }).toEqual({ result: "status 503", opened: 0 });
  });
});
