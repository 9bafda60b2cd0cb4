/**
 * Slow and stalled clients: each is cut off by the timeout or limit meant for it, with small
 * configured timeouts (300 ms) so that the suite stays fast. Every test has its own server, so
 * the tests (mostly waiting on timers) run concurrently.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { describe, test } from "vitest";
import { closeFrame, textFrame } from "../helpers/frames.js";
import { RawClient, openSocket, handshakeLines, rawExchange, parseResponseHead } from "../helpers/raw-client.js";
import { expectHarmlessAnswer } from "./handshakes.js";
import { dribble, floodWithoutReading, useHeaderTimeout } from "./slow-clients.js";
import { mounts, type MountStyle, type Mounted } from "./targets.js";
import { waitUntil } from "./wait.js";

const TIMEOUT = 300;
/** Generous bound for "cut off by a 300 ms timeout", well below how long the slow client would last. */
const CUT_BOUND = 3_000;

type Options = Parameters<MountStyle["start"]>[0];

/** A started echo server that counts opened connections and records close codes. */
interface Tracked {
  server: Mounted;
  opened: number;
  closes: number[];
}

/** Start an echo server with `options`, run `use`, close the server whatever happens. */
async function withServer(mount: MountStyle, options: Options, use: (tracked: Tracked) => Promise<void>): Promise<void> {
  const tracked: Tracked = { server: undefined as unknown as Mounted, opened: 0, closes: [] };
  tracked.server = await mount.start(options, (connection) => {
    tracked.opened++;
    connection.onMessage((data) => connection.send(data));
    connection.onClose((code) => tracked.closes.push(code));
  });
  try {
    await use(tracked);
  } finally {
    await tracked.server.close();
  }
}

/** Timeouts for the handshake, idle and closing phases. */
const TIMEOUTS: Options = {
  pingInterval: 0,
  // Also how long a peer has to answer our close frame.
  pongTimeout: TIMEOUT,
  handshakeTimeout: TIMEOUT,
  idleTimeout: TIMEOUT,
  authenticate: (req) => (req.headers["x-stall"] ? new Promise(() => undefined) : {}),
};

describe.concurrent.each(mounts)("slow and stalled clients through $name", (mount) => {
  test("a handshake sent one byte every 50 ms is cut off by the server's header timeout", async ({ expect }) => {
    await withServer(mount, TIMEOUTS, async (tracked) => {
      useHeaderTimeout(tracked.server.server, TIMEOUT);
      const socket = await openSocket(tracked.server.port);
      const request = handshakeLines(tracked.server.port).join("\r\n") + "\r\n\r\n";
      const result = await dribble(socket, request, 50);
      expect(result.cutOff, `server let ${result.written}/${request.length} bytes through`).toBe(true);
      expect(result.elapsed).toBeLessThan(CUT_BOUND);
      const text = result.received.toString("latin1");
      expect(text.startsWith("HTTP/1.1 101")).toBe(false);
      if (text.length > 0) {
        const head = parseResponseHead(text.slice(0, text.indexOf("\r\n\r\n")));
        expect(head?.statusCode, text).toBeGreaterThanOrEqual(400);
      }
      expect(tracked.opened).toBe(0);
    });
  });

  test("complete headers but authentication that never settles: 503 at the handshake timeout", async ({ expect }) => {
    await withServer(mount, TIMEOUTS, async (tracked) => {
      const request = handshakeLines(tracked.server.port, { headers: { "X-Stall": "1" } }).join("\r\n") + "\r\n\r\n";
      const started = Date.now();
      const exchange = await rawExchange(tracked.server.port, request, CUT_BOUND);
      expectHarmlessAnswer(exchange, request, [503]);
      expect(Date.now() - started).toBeLessThan(CUT_BOUND);
      expect(tracked.opened).toBe(0);
    });
  });

  test("no frame after the handshake: close 1001 at the idle timeout, then the end", async ({ expect }) => {
    await withServer(mount, TIMEOUTS, async (tracked) => {
      const client = await RawClient.connect(tracked.server.port);
      const event = await client.next(CUT_BOUND);
      expect(event.kind === "close" && event.code).toBe(1001);
      client.send(closeFrame(1001));
      expect((await client.next(CUT_BOUND)).kind).toBe("end");
      client.destroy();
      expect(tracked.server.endpoint.stats().closedBy.idleTimeout).toBe(1);
    });
  });

  test("an idle client that ignores the close frame is disconnected all the same", async ({ expect }) => {
    await withServer(mount, TIMEOUTS, async (tracked) => {
      const client = await RawClient.connect(tracked.server.port);
      expect((await client.next(CUT_BOUND)).kind).toBe("close");
      const started = Date.now();
      const end = await client.next(CUT_BOUND);
      expect(end.kind, `still connected ${Date.now() - started} ms after the close frame`).toBe("end");
      client.destroy();
      expect(await waitUntil(() => tracked.server.endpoint.size === 0, CUT_BOUND)).toBe(true);
    });
  });

  test("traffic every 50 ms keeps a 300 ms idle timeout from firing over twice that time", async ({ expect }) => {
    await withServer(mount, TIMEOUTS, async (tracked) => {
      const client = await RawClient.connect(tracked.server.port);
      // Gaps far below the timeout: a loaded machine's event-loop delays must not add up to it.
      for (let i = 0; i < 12; i++) {
        client.send(textFrame(`keepalive ${i}`));
        const event = await client.next(CUT_BOUND);
        expect(event.kind === "message" && event.data.toString()).toBe(`keepalive ${i}`);
        await sleep(TIMEOUT / 6);
      }
      client.send(closeFrame(1000));
      expect((await client.next()).kind).toBe("close");
      client.destroy();
      expect(tracked.server.endpoint.stats().closedBy.idleTimeout).toBe(0);
    });
  });

  test("a client that stops reading is cut off by the write timeout", async ({ expect }) => {
    // The buffer limit is out of reach: only the write timeout can cut the flood.
    const options: Options = { pingInterval: 0, maxMessageSize: 1024 * 1024, writeTimeout: TIMEOUT, maxBufferedAmount: 1024 * 1024 * 1024 };
    await withServer(mount, options, async (tracked) => {
      const client = await RawClient.connect(tracked.server.port);
      const { sent, cut } = await floodWithoutReading(client, () => tracked.closes.length > 0);
      expect(cut, `still open after ${sent} bytes`).toBe(true);
      expect(await waitUntil(() => tracked.closes.length > 0, CUT_BOUND)).toBe(true);
      expect(tracked.server.endpoint.stats().closedBy.writeTimeout).toBe(1);
      expect(await waitUntil(() => tracked.server.endpoint.size === 0, CUT_BOUND)).toBe(true);
      client.socket.resume();
      expect((await client.drain(CUT_BOUND)).at(-1)?.kind).toBe("end");
      client.destroy();
    });
  });

  test("a client that stops reading is cut off at the backpressure limit (policy close)", async ({ expect }) => {
    // No write timeout: only the backpressure limit (then the close timeout) can cut the flood.
    const options: Options = {
      pingInterval: 0,
      pongTimeout: TIMEOUT,
      maxMessageSize: 256 * 1024,
      writeTimeout: 0,
      maxBufferedAmount: 256 * 1024,
      backpressure: "close",
    };
    await withServer(mount, options, async (tracked) => {
      const client = await RawClient.connect(tracked.server.port);
      const { sent, cut } = await floodWithoutReading(client, () => tracked.closes.length > 0);
      expect(cut, `still open after ${sent} bytes`).toBe(true);
      expect(await waitUntil(() => tracked.closes.length > 0, CUT_BOUND)).toBe(true);
      expect(tracked.server.endpoint.stats().closedBy.backpressure).toBe(1);
      // 1013 queued behind data the client never reads: the close times out, the socket is destroyed.
      expect([1013, 1006]).toContain(tracked.closes[0]);
      expect(await waitUntil(() => tracked.server.endpoint.size === 0, CUT_BOUND)).toBe(true);
      client.socket.resume();
      expect((await client.drain(CUT_BOUND)).at(-1)?.kind).toBe("end");
      client.destroy();
    });
  });
});
