/**
 * Clients that are slow on purpose: a handshake dribbled byte by byte, and a flood sent by a
 * client that has stopped reading.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Socket } from "node:net";
import type { Server } from "node:http";
import { binaryFrame } from "../helpers/frames.js";
import type { RawClient } from "../helpers/raw-client.js";

/** What happened to a dribbled request. */
export interface DribbleResult {
  /** Bytes written before the server ended the connection (or all of them). */
  written: number;
  /** Everything the server sent. */
  received: Buffer;
  /** Whether the server ended the connection before the whole request was written. */
  cutOff: boolean;
  /** ms from the first byte to the end of the connection (or of the request). */
  elapsed: number;
}

/** Write `request` one byte every `interval` ms until it is all written or the server ends the connection. */
export async function dribble(socket: Socket, request: string, interval: number): Promise<DribbleResult> {
  const bytes = Buffer.from(request, "latin1");
  const received: Buffer[] = [];
  let closed = false;
  socket.on("data", (chunk: Buffer) => received.push(chunk));
  socket.on("error", () => void (closed = true));
  socket.on("close", () => void (closed = true));
  socket.on("end", () => void (closed = true));
  const started = Date.now();
  let written = 0;
  while (written < bytes.length && !closed) {
    socket.write(bytes.subarray(written, written + 1), () => undefined);
    written++;
    await sleep(interval);
  }
  const elapsed = Date.now() - started;
  socket.destroy();
  return { written, received: Buffer.concat(received), cutOff: closed && written < bytes.length, elapsed };
}

/**
 * With the client's socket paused (it reads nothing), send a binary message of `size` bytes every
 * `pace` ms for the server to echo, until `stop()` holds, the connection dies or `maxBytes` have
 * been sent. The steady pace matters: a stall must be detected while the client is still sending,
 * not only once it has gone quiet. A zero mask key keeps the client's CPU cost at a copy.
 * Returns the bytes sent and whether the flood ended by `stop()` or the connection's end (`cut`)
 * rather than by running out of budget.
 */
export async function floodWithoutReading(
  client: RawClient,
  stop: () => boolean,
  { size = 64 * 1024, pace = 5, maxBytes = 32 * 1024 * 1024 } = {},
): Promise<{ sent: number; cut: boolean }> {
  client.socket.pause();
  const frame = binaryFrame(Buffer.alloc(size), { mask: Buffer.alloc(4) });
  let sent = 0;
  while (sent < maxBytes && !stop() && !client.ended && !client.socket.destroyed) {
    client.send(frame);
    sent += frame.length;
    await sleep(pace);
  }
  return { sent, cut: sent < maxBytes };
}

/**
 * The header phase (before Node emits 'upgrade') belongs to the HTTP server: Node's
 * `headersTimeout`, checked every `connectionsCheckingInterval`. The fixtures create their
 * servers with Node's defaults (60 s, checked every 30 s) and Node reads the interval when it
 * starts listening, so the test sets both and restarts Node's own checker.
 */
export function useHeaderTimeout(server: Server, timeout: number): void {
  server.headersTimeout = timeout;
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.max(10, Math.floor(timeout / 4));
  for (const listener of server.listeners("listening")) {
    if (listener.name === "setupConnectionsTracking") (listener as () => void).call(server);
  }
}

