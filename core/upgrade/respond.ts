/**
 * The HTTP answer to an upgrade that does not become a WebSocket: a complete HTTP/1.1 response
 * (status line, `Connection: close`, byte-exact `Content-Length`, body) in one write, then the socket
 * is closed.
 * @module
 */
import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";

/** Writes the response and closes `socket` once it is flushed (at once when it cannot be written). */
export function writeResponse(
  socket: Duplex,
  status: number,
  headers: Record<string, string | number | readonly string[]>,
  body: string | Uint8Array,
): void {
  if (!socket.writable || socket.destroyed) {
    socket.destroy();
    return;
  }
  const payload = typeof body === "string" ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\nConnection: close\r\n`;
  let hasType = false;
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower === "connection" || lower === "content-length" || lower === "transfer-encoding") continue;
    if (lower === "content-type") hasType = true;
    for (const item of Array.isArray(value) ? value : [value]) head += `${name}: ${String(item).replace(/[\r\n]/g, "")}\r\n`;
  }
  if (!hasType && payload.length > 0) head += "Content-Type: text/plain; charset=utf-8\r\n";
  head += `Content-Length: ${payload.length}\r\n\r\n`;
  socket.once("finish", destroySocket);
  socket.end(Buffer.concat([Buffer.from(head, "latin1"), payload]));
}

/** Closes `socket` once what was written to it is flushed. */
export function endSocket(socket: Duplex): void {
  if (socket.destroyed) return;
  socket.once("finish", destroySocket);
  socket.end();
}

function destroySocket(this: Duplex): void {
  this.destroy();
}
