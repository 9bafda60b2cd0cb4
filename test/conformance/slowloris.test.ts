/**
 * Slow and stalled clients: each is cut off by the timeout or limit meant for it, with small
 * configured timeouts (300 ms) so that the suite stays fast.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { closeFrame, textFrame } from "../helpers/frames.js";
import { RawClient, openSocket, handshakeLines, rawExchange, parseResponseHead } from "../helpers/raw-client.js";
import { expectHarmlessAnswer } from "./handshakes.js";
import { dribble, floodWithoutReading, useHeaderTimeout } from "./slow-clients.js";
import { mounts, type Mounted as Started, type Connection as TestConnection } from "./targets.js";
import { waitUntil } from "./wait.js";

const TIMEOUT = 300;
/** Generous bound for "cut off by a 300 ms timeout", well below how long the slow client would last. */
const CUT_BOUND = 3_000;

interface Tracked {
  server: Started;
  opened: number;
  closes: number[];
}

async function startTracked(mount: (typeof mounts)[number], options: Parameters<(typeof mounts)[number]["start"]>[0]): Promise<Tracked> {
  const tracked: Tracked = { server: undefined as unknown as Started, opened: 0, closes: [] };
  tracked.server = await mount.start(options, (conn: TestConnection) => {
    tracked.opened++;
    conn.onMessage((data) => conn.send(data));
    conn.onClose((code) => tracked.closes.push(code));
  });
  return tracked;
}

describe.each(mounts)("slow and stalled clients through $name", (mount) => {
  let timeouts: Tracked;
  let writeTimeout: Tracked;
  let backpressure: Tracked;

  beforeAll(async () => {
    timeouts = await startTracked(mount, {
      pingInterval: 0,
      // Also how long a peer has to answer our close frame.
      pongTimeout: TIMEOUT,
      handshakeTimeout: TIMEOUT,
      idleTimeout: TIMEOUT,
      authenticate: (req) => (req.headers["x-stall"] ? new Promise(() => undefined) : {}),
    });
    useHeaderTimeout(timeouts.server.server, TIMEOUT);
    // The buffer limit is out of reach: only the write timeout can cut the flood.
    writeTimeout = await startTracked(mount, {
      pingInterval: 0,
      maxMessageSize: 1024 * 1024,
      writeTimeout: TIMEOUT,
      maxBufferedAmount: 1024 * 1024 * 1024,
    });
    // No write timeout: only the backpressure limit (then the close timeout) can cut the flood.
    backpressure = await startTracked(mount, {
      pingInterval: 0,
      pongTimeout: TIMEOUT,
      maxMessageSize: 1024 * 1024,
      writeTimeout: 0,
      maxBufferedAmount: 256 * 1024,
      backpressure: "close",
    });
  });
  afterAll(async () => {
    await Promise.all([timeouts.server.close(), writeTimeout.server.close(), backpressure.server.close()]);
  });

  test("a handshake sent one byte every 50 ms is cut off by the handshake timeout", async () => {
    const socket = await openSocket(timeouts.server.port);
    const request = handshakeLines(timeouts.server.port).join("\r\n") + "\r\n\r\n";
    const before = timeouts.opened;
    const result = await dribble(socket, request, 50);
    expect(result.cutOff, `server let ${result.written}/${request.length} bytes through`).toBe(true);
    expect(result.elapsed).toBeLessThan(CUT_BOUND);
    const text = result.received.toString("latin1");
    expect(text.startsWith("HTTP/1.1 101")).toBe(false);
    if (text.length > 0) {
      const head = parseResponseHead(text.slice(0, text.indexOf("\r\n\r\n")));
      expect(head?.statusCode, text).toBeGreaterThanOrEqual(400);
    }
    expect(timeouts.opened).toBe(before);
  });

  test("complete headers but authentication that never settles: an HTTP error at the handshake timeout", async () => {
    const request = handshakeLines(timeouts.server.port, { headers: { "X-Stall": "1" } }).join("\r\n") + "\r\n\r\n";
    const before = timeouts.opened;
    const started = Date.now();
    const exchange = await rawExchange(timeouts.server.port, request, CUT_BOUND);
    expectHarmlessAnswer(exchange, request, [503]);
    expect(Date.now() - started).toBeLessThan(CUT_BOUND);
    expect(timeouts.opened).toBe(before);
  });

  test("no frame after the handshake: close 1001 at the idle timeout, then the end", async () => {
    const client = await RawClient.connect(timeouts.server.port);
    const event = await client.next(CUT_BOUND);
    expect(event.kind === "close" && event.code).toBe(1001);
    client.send(closeFrame(1001));
    expect((await client.next(CUT_BOUND)).kind).toBe("end");
    client.destroy();
  });

  test("an idle client that ignores the close frame is disconnected all the same", async () => {
    const client = await RawClient.connect(timeouts.server.port);
    expect((await client.next(CUT_BOUND)).kind).toBe("close");
    const started = Date.now();
    const end = await client.next(CUT_BOUND * 2);
    expect(end.kind, `still connected ${Date.now() - started} ms after the close frame`).toBe("end");
    client.destroy();
    expect(await waitUntil(() => timeouts.server.endpoint.size === 0, CUT_BOUND)).toBe(true);
  });

  test("traffic every 100 ms keeps a 300 ms idle timeout from firing", async () => {
    const client = await RawClient.connect(timeouts.server.port);
    for (let i = 0; i < 8; i++) {
      client.send(textFrame(`keepalive ${i}`));
      const event = await client.next(CUT_BOUND);
      expect(event.kind === "message" && event.data.toString()).toBe(`keepalive ${i}`);
      await sleep(TIMEOUT / 3);
    }
    client.send(closeFrame(1000));
    expect((await client.next()).kind).toBe("close");
    client.destroy();
  });

  test("a client that stops reading is cut off by the write timeout", async () => {
    const before = writeTimeout.closes.length;
    const client = await RawClient.connect(writeTimeout.server.port);
    const { sent, cut } = await floodWithoutReading(client, () => writeTimeout.closes.length > before);
    expect(cut, `still open after ${sent} bytes`).toBe(true);
    expect(await waitUntil(() => writeTimeout.closes.length > before, CUT_BOUND)).toBe(true);
    expect(writeTimeout.server.endpoint.stats().closedBy.writeTimeout).toBeGreaterThan(0);
    expect(await waitUntil(() => writeTimeout.server.endpoint.size === 0, CUT_BOUND)).toBe(true);
    client.socket.resume();
    expect((await client.drain(CUT_BOUND)).at(-1)?.kind).toBe("end");
    client.destroy();
  });

  test("a client that stops reading is cut off at the backpressure limit (policy close)", async () => {
    const before = backpressure.closes.length;
    const client = await RawClient.connect(backpressure.server.port);
    const { sent, cut } = await floodWithoutReading(client, () => backpressure.closes.length > before);
    expect(cut, `still open after ${sent} bytes`).toBe(true);
    expect(await waitUntil(() => backpressure.closes.length > before, CUT_BOUND)).toBe(true);
    expect(backpressure.server.endpoint.stats().closedBy.backpressure).toBeGreaterThan(0);
    // 1013 queued behind data the client never reads: the close times out, the socket is destroyed.
    expect([1013, 1006]).toContain(backpressure.closes.at(-1));
    expect(await waitUntil(() => backpressure.server.endpoint.size === 0, CUT_BOUND)).toBe(true);
    client.socket.resume();
    expect((await client.drain(CUT_BOUND)).at(-1)?.kind).toBe("end");
    client.destroy();
  });
});
