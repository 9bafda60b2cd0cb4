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
    app = await start({ idleTimeout: 100, pingInterval: 100, pongTimeout: 1500 }, () => {});
    const raw = await RawClient.connect(app.port);
    cleanup.push(() => raw.destroy());
    // The client answers pings? RawClient does not auto-answer: but the first ping is at 100 ms, with the idle close.
    await until(() => app!.endpoint.size === 0, "server close", 4000);
    const s = app.endpoint.stats().closedBy;
    expect(s.idleTimeout + s.pongTimeout).toBe(1);
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
