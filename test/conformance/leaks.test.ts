/**
 * Leaks: 2,000 aborted or refused handshakes and 2,000 abruptly reset connections per mount
 * leave no open file descriptors, no registry entries and no reachable upgrade requests (or
 * their sockets) behind. Connections run with bounded concurrency.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Socket } from "node:net";
import { describe, expect, test } from "vitest";
import { binaryFrame, textFrame } from "../helpers/frames.js";
import { RawClient, handshakeLines, openSocket } from "../helpers/raw-client.js";
import { UpgradeTracker, exposeGc, openFds } from "./leak-tracking.js";
import { pool } from "./pool.js";
import { mounts } from "./targets.js";
import { waitUntil } from "./wait.js";

const ABORTED = 2_000;
const RESET = 2_000;
const CONCURRENCY = 32;

/** Resolves when the socket has closed (or after `timeout` ms, destroying it). */
function closed(socket: Socket, timeout = 3_000): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => socket.destroy(), timeout);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function request(port: number, headers: Record<string, string> = {}, path = "/echo"): string {
  return handshakeLines(port, { path, headers }).join("\r\n") + "\r\n\r\n";
}

/** One aborted or refused handshake, of six kinds. */
async function abortedOrRefused(port: number, index: number): Promise<void> {
  const socket = await openSocket(port);
  socket.on("error", () => undefined);
  socket.resume();
  switch (index % 6) {
    case 0: {
      // Half the request head, then gone.
      const text = request(port);
      socket.write(text.slice(0, text.length >> 1));
      await sleep(1);
      socket.destroy();
      return;
    }
    case 1:
      // The whole request, then a reset while authenticate is still running.
      socket.write(request(port, { "X-Slow": "1" }));
      await sleep(2);
      socket.resetAndDestroy();
      return;
    case 2:
      // Refused by authenticate (401).
      socket.write(request(port, { "X-Refuse": "1" }));
      return closed(socket);
    case 3:
      // Refused by the handshake checks (426, unsupported version).
      socket.write(request(port).replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 12"));
      return closed(socket);
    case 4:
      // No WebSocket route there (404).
      socket.write(request(port, {}, "/no-such-route"));
      return closed(socket);
    default:
      // The whole request, then the client's FIN while authenticate runs; the server ends too.
      socket.end(request(port, { "X-Slow": "1" }));
      return closed(socket);
  }
}

/** One connection that completes its handshake, then is reset, in one of three states. */
async function reset(port: number, index: number): Promise<void> {
  const client = await RawClient.connect(port);
  switch (index % 3) {
    case 0:
      break;
    case 1:
      client.send(binaryFrame(Buffer.alloc(2048)).subarray(0, 1000));
      break;
    default:
      client.send(textFrame("echo me and never read it"));
      break;
  }
  await sleep(1);
  client.socket.resetAndDestroy();
}

describe.each(mounts)("leaks through $name", (mount) => {
  test(`${ABORTED} aborted or refused handshakes and ${RESET} resets leave nothing behind`, { timeout: 60_000 }, async () => {
    const gc = exposeGc();
    const server = await mount.start(
      {
        pingInterval: 0,
        handshakeTimeout: 2_000,
        authenticate: async (req) => {
          if (req.headers["x-refuse"]) return false;
          if (req.headers["x-slow"]) await sleep(20);
          return {};
        },
      },
      (connection) => {
        connection.onMessage((data) => connection.send(data));
      },
    );
    const tracker = new UpgradeTracker(server.server);
    try {
      // Warm up every path once (lazy requires, pools), then take the baseline.
      await pool(12, 4, (i) => (i < 6 ? abortedOrRefused(server.port, i) : reset(server.port, i)));
      await waitUntil(() => server.endpoint.size === 0, 3_000);
      await sleep(50);
      gc();
      const baseline = openFds();

      await pool(ABORTED, CONCURRENCY, (i) => abortedOrRefused(server.port, i));
      await pool(RESET, CONCURRENCY, (i) => reset(server.port, i));

      expect(await waitUntil(() => server.endpoint.size === 0, 5_000), `open connections: ${server.endpoint.size}`).toBe(true);
      expect(server.endpoint.stats().connections).toBe(0);
      const fdsSettled = await waitUntil(() => openFds() <= baseline, 5_000, 20);
      expect(fdsSettled, `file descriptors: ${openFds()} now, ${baseline} before`).toBe(true);
      // Each upgrade request and its socket must become unreachable.
      expect(tracker.registered).toBeGreaterThan(2 * (ABORTED / 2 + RESET));
      const left = await tracker.collect(gc);
      expect(left, `${left} of ${tracker.registered} upgrade requests and sockets still reachable`).toBe(0);
    } finally {
      tracker.restore();
      await server.close();
    }
  });
});
