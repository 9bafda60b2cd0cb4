/**
 * A minimal WebSocket client for load generation: it writes prebuilt, pre-masked frames and only
 * counts what comes back, so that on a 2-core machine the server, not the client, is the bottleneck.
 * (Measured on this machine: the `ws` client saturates its core at ~200k small echoes/s and capped
 * uWebSockets.js there, while this client drives it past 1M/s at ~85% of a core.)
 * Correctness of every target is checked separately with the real `ws` / socket.io clients (probe.ts).
 */
import { createHash, randomBytes } from "node:crypto";
import * as net from "node:net";

/** WebSocket opcodes (RFC 6455 section 5.2). */
export const Opcode = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** Frames at most this long are handed to `onFrame` with their payload; longer ones are skipped and only counted. */
export const SMALL_PAYLOAD = 4096;

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
// One fixed key and mask per process. RFC 6455 wants a fresh unpredictable mask per frame to defeat
// cache poisoning by intermediaries; there are none on loopback, and servers cannot tell the difference.
const KEY = randomBytes(16).toString("base64");
const EXPECTED_ACCEPT = createHash("sha1").update(KEY + GUID).digest("base64");
const MASK = randomBytes(4);

/** Builds one complete, masked client frame (FIN set). */
export function maskedFrame(opcode: number, payload: Buffer | string): Buffer {
  const data = typeof payload === "string" ? Buffer.from(payload) : payload;
  const len = data.length;
  const headerLength = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + 4 + len);
  frame[0] = 0x80 | opcode;
  if (len < 126) {
    frame[1] = 0x80 | len;
  } else if (len < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(len, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(0, 2);
    frame.writeUInt32BE(len, 6);
  }
  MASK.copy(frame, headerLength);
  const start = headerLength + 4;
  for (let i = 0; i < len; i++) frame[start + i] = data[i]! ^ MASK[i & 3]!;
  return frame;
}

/** `count` copies of `frame` back to back, to send a batch with one write. */
export function repeatFrame(frame: Buffer, count: number): Buffer {
  const out = Buffer.allocUnsafe(frame.length * count);
  for (let i = 0; i < count; i++) frame.copy(out, i * frame.length);
  return out;
}

/** The close frame a client sends: code 1000, masked. */
export const CLOSE_FRAME = maskedFrame(Opcode.close, Buffer.from([0x03, 0xe8]));

/** What to connect to. */
export interface WireTarget {
  port: number;
  /** Request path including any query, e.g. `/echo` or `/socket.io/?EIO=4&transport=websocket`. */
  path: string;
  /** Extra request headers, e.g. `{ authorization: "Bearer x" }`. */
  headers?: Record<string, string>;
  /** Offer permessage-deflate (RFC 7692). Payloads are never inflated: compressed frames are only counted. */
  deflate?: boolean;
  /** Source address on loopback (spreads ephemeral ports over several 127.x addresses). */
  localAddress?: string;
}

/** Receives every frame. `payload` is null when the frame was longer than {@link SMALL_PAYLOAD} (skipped). */
export type FrameListener = (opcode: number, rsv1: boolean, payload: Buffer | null, length: number) => void;

/** Builds the upgrade request bytes once per target shape. */
export function upgradeRequest(target: WireTarget): Buffer {
  let request =
    `GET ${target.path} HTTP/1.1\r\nHost: 127.0.0.1:${target.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n`;
  if (target.deflate) request += "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
  for (const [name, value] of Object.entries(target.headers ?? {})) request += `${name}: ${value}\r\n`;
  return Buffer.from(request + "\r\n");
}

const HEADER_END = Buffer.from("\r\n\r\n");
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

/**
 * One client connection. Call {@link WireConnection.connect}; `onOpen` runs after a verified 101,
 * `onFrame` for every data frame (pings are answered here), `onClosed` once when the socket is gone.
 */
export class WireConnection {
  readonly socket: net.Socket;
  /** `Sec-WebSocket-Extensions` the server answered with ("" when none). */
  extensions = "";
  /** Status line of a refused handshake, when there was one. */
  refusal = "";
  open = false;
  onOpen: () => void = () => {};
  onFrame: FrameListener = () => {};
  onClosed: (error?: Error) => void = () => {};
  /** Runs after each received chunk has been parsed: the place to batch replies into one write. */
  onChunkEnd: () => void = () => {};

  #handshake: Buffer | null = Buffer.alloc(0);
  #pending: Buffer | null = null;
  /** Bytes of an oversized payload still to skip, and the frame they belong to. */
  #skip = 0;
  #skipOpcode = 0;
  #skipRsv1 = false;
  #skipLength = 0;
  #closeSent = false;
  #closed = false;

  constructor(target: WireTarget) {
    const options: net.NetConnectOpts = {
      port: target.port,
      host: "127.0.0.1",
      noDelay: true,
      // Reads land in one shared buffer and skip the stream machinery: a third of the client's cost
      // per read. Everything here parses synchronously and copies what it keeps.
      onread: {
        buffer: READ_BUFFER,
        callback: (bytes: number, buffer: Uint8Array): boolean => {
          try {
            this.#onData(Buffer.from(buffer.buffer, buffer.byteOffset, bytes));
          } catch (error) {
            this.#finish(error as Error);
          }
          return true;
        },
      },
    };
    if (target.localAddress) options.localAddress = target.localAddress;
    this.socket = net.connect(options);
    this.socket.on("connect", () => this.socket.write(upgradeRequest(target)));
    this.socket.on("error", (error: Error) => this.#finish(error));
    this.socket.on("close", () => this.#finish());
  }

  /** Writes raw (already framed and masked) bytes. */
  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Starts the closing handshake (the server's close frame ends the socket). */
  close(): void {
    if (this.#closeSent || this.#closed) return;
    this.#closeSent = true;
    if (this.open) this.socket.write(CLOSE_FRAME);
    else this.socket.destroy();
  }

  /** Drops the TCP connection without a closing handshake. */
  destroy(): void {
    this.socket.destroy();
  }

  #finish(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.open = false;
    this.socket.destroy();
    this.onClosed(error);
  }

  #onData(chunk: Buffer): void {
    if (this.#handshake !== null) {
      const buffered: Buffer = this.#handshake.length === 0 ? chunk : Buffer.concat([this.#handshake, chunk]);
      const end = buffered.indexOf(HEADER_END);
      if (end < 0) {
        this.#handshake = Buffer.from(buffered);
        return;
      }
      this.#handshake = null;
      const head = buffered.toString("latin1", 0, end);
      if (!this.#acceptHead(head)) return;
      this.open = true;
      this.onOpen();
      chunk = buffered.subarray(end + 4);
      if (chunk.length === 0 || this.#closed) return;
    }
    this.#parse(chunk);
    if (!this.#closed) this.onChunkEnd();
  }

  #acceptHead(head: string): boolean {
    const lines = head.split("\r\n");
    const status = lines[0] ?? "";
    if (!status.startsWith("HTTP/1.1 101")) {
      this.refusal = status;
      this.#finish(new Error(`handshake refused: ${status}`));
      return false;
    }
    let accept = "";
    for (const line of lines) {
      const colon = line.indexOf(":");
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === "sec-websocket-accept") accept = value;
      else if (name === "sec-websocket-extensions") this.extensions = value;
    }
    if (accept !== EXPECTED_ACCEPT) {
      this.#finish(new Error("handshake: wrong Sec-WebSocket-Accept"));
      return false;
    }
    return true;
  }

  #parse(chunk: Buffer): void {
    let buffer = chunk;
    if (this.#skip > 0) {
      if (buffer.length < this.#skip) {
        this.#skip -= buffer.length;
        return;
      }
      buffer = buffer.subarray(this.#skip);
      this.#skip = 0;
      this.onFrame(this.#skipOpcode, this.#skipRsv1, null, this.#skipLength);
    }
    if (this.#pending !== null) {
      buffer = Buffer.concat([this.#pending, buffer]);
      this.#pending = null;
    }
    let offset = 0;
    const total = buffer.length;
    while (total - offset >= 2) {
      const b0 = buffer[offset]!;
      let length = buffer[offset + 1]! & 0x7f;
      let header = 2;
      if (length === 126) {
        if (total - offset < 4) break;
        length = buffer.readUInt16BE(offset + 2);
        header = 4;
      } else if (length === 127) {
        if (total - offset < 10) break;
        length = buffer.readUInt32BE(offset + 6);
        header = 10;
      }
      const opcode = b0 & 0x0f;
      const rsv1 = (b0 & 0x40) !== 0;
      const available = total - offset - header;
      if (length > SMALL_PAYLOAD && opcode < 0x8) {
        if (available < length) {
          this.#skip = length - available;
          this.#skipOpcode = opcode;
          this.#skipRsv1 = rsv1;
          this.#skipLength = length;
          return;
        }
        offset += header + length;
        this.onFrame(opcode, rsv1, null, length);
        continue;
      }
      if (available < length) break;
      const payload = buffer.subarray(offset + header, offset + header + length);
      offset += header + length;
      if (opcode >= 0x8) this.#control(opcode, payload);
      else this.onFrame(opcode, rsv1, payload, length);
      if (this.#closed) return;
    }
    if (offset < total) this.#pending = Buffer.from(buffer.subarray(offset));
  }

  #control(opcode: number, payload: Buffer): void {
    if (opcode === Opcode.ping) {
      this.socket.write(maskedFrame(Opcode.pong, payload));
    } else if (opcode === Opcode.close) {
      if (!this.#closeSent) {
        this.#closeSent = true;
        this.socket.write(CLOSE_FRAME);
      }
      this.socket.end();
    }
  }
}

/** Source addresses to spread connections over: 127.0.0.1..127.0.0.n on Linux, only 127.0.0.1 elsewhere. */
export function loopbackSources(count: number): string[] {
  if (process.platform !== "linux") return ["127.0.0.1"];
  return Array.from({ length: count }, (_, i) => `127.0.0.${i + 1}`);
}
