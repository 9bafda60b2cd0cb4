/**
 * The one module that reads `ws`'s private state. wsmount uses three of its fields on the send path:
 * `_socket` (the TCP socket: write batching, prepared broadcast frames written once for many
 * recipients, byte counts, write progress), `_sender` (`_state`, `_queue`, `_bufferedBytes`: whether ws
 * still queues earlier messages, which a prepared frame must not overtake) and `_extensions` (the
 * negotiated permessage-deflate `params`: whether a shared compressed frame is right for a recipient).
 *
 * The first connection is checked against the expected shape (and against `bufferedAmount`, which ws
 * computes from two of those fields). When the check fails, wsmount warns once and uses ws's public
 * API only: every message, broadcasts included, goes through `ws.send`, sockets are not batched, byte
 * counts in `stats()` stay 0, and write progress (`writeTimeout`) is judged from `bufferedAmount`.
 * `WSMOUNT_WS_INTERNALS=0` in the environment forces that public path.
 *
 * Broadcast frames are built by ws's own framer (`Sender.frame`, exported by ws but not declared by
 * `@types/ws`), checked at module load against the RFC 6455 layout; when it is missing or frames
 * differently, wsmount frames them itself.
 * @module
 */
import * as ws from "ws";
import type { SocketLike } from "./types.js";

/** The TCP socket under a `ws` instance, as wsmount uses it. */
export interface RawSocket {
  readonly bytesWritten: number;
  readonly bytesRead: number;
  /** Bytes waiting in the socket's own write buffer. */
  readonly writableLength: number;
  readonly destroyed: boolean;
  write(data: Buffer): boolean;
  cork(): void;
  uncork(): void;
}

/** permessage-deflate parameters as negotiated (`server_no_context_takeover`, `server_max_window_bits`...). */
export type DeflateParams = Readonly<Record<string, unknown>>;

/** The private fields read here, as ws 8 has them. */
interface WsPrivate {
  readonly _socket: RawSocket | null;
  readonly _sender: { readonly _state: number; readonly _queue: readonly unknown[]; readonly _bufferedBytes: number } | null;
  readonly _extensions: { readonly "permessage-deflate"?: { readonly params: DeflateParams | null } };
}

/** ws's sender state when it is not compressing or reading a Blob (lib/sender.js `DEFAULT`). */
const SENDER_IDLE = 0;
/** Negotiated deflate whose parameters the public API does not show. */
const UNKNOWN_PARAMS: DeflateParams = Object.freeze({});

const Unchecked = 0;
const Internal = 1;
const Public = 2;
let mode: number = process.env.WSMOUNT_WS_INTERNALS === "0" ? Public : Unchecked;
let warned = false;

/**
 * Called for every new connection: the first one is checked. Cheap afterwards (one comparison).
 */
export function adopt(ws: SocketLike): void {
  if (mode !== Unchecked) return;
  if (hasExpectedShape(ws)) {
    mode = Internal;
    return;
  }
  mode = Public;
  if (!warned) {
    warned = true;
    process.emitWarning(
      "wsmount: this version of ws keeps its socket, sender or extensions differently from what wsmount expects; using ws's public API (no write batching, broadcasts framed per recipient, byte counts in stats() left at 0)",
      { code: "WSMOUNT_WS_COMPAT" },
    );
  }
}

/** True when `ws` has the private fields wsmount reads, with the types and meaning it expects. */
export function hasExpectedShape(ws: SocketLike): boolean {
  const candidate = ws as SocketLike & Partial<Record<keyof WsPrivate, unknown>>;
  const socket = candidate._socket as Partial<RawSocket> | null | undefined;
  const sender = candidate._sender as Partial<NonNullable<WsPrivate["_sender"]>> | null | undefined;
  const extensions = candidate._extensions as Record<string, unknown> | null | undefined;
  if (socket === null || typeof socket !== "object" || sender === null || typeof sender !== "object") return false;
  if (extensions === null || typeof extensions !== "object") return false;
  if (typeof socket.write !== "function" || typeof socket.cork !== "function" || typeof socket.uncork !== "function") return false;
  if (typeof socket.bytesWritten !== "number" || typeof socket.bytesRead !== "number" || typeof socket.writableLength !== "number") return false;
  if (typeof sender._state !== "number" || !Array.isArray(sender._queue) || typeof sender._bufferedBytes !== "number") return false;
  const deflate = extensions["permessage-deflate"] as { params?: unknown } | undefined;
  if (deflate !== undefined && (deflate === null || typeof deflate !== "object" || typeof deflate.params !== "object")) return false;
  // ws computes bufferedAmount from exactly these two: if that no longer holds, their meaning changed.
  return ws.bufferedAmount === socket.writableLength + sender._bufferedBytes;
}

/** The connection's TCP socket, or null on the public path. */
export function socketOf(ws: SocketLike): RawSocket | null {
  return mode === Internal ? (ws as unknown as WsPrivate)._socket : null;
}

/**
 * Whether ws has nothing queued (no message being compressed ahead), so that a frame may be written
 * straight to the socket without overtaking anything. Always false on the public path.
 */
export function senderIdle(ws: SocketLike): boolean {
  if (mode !== Internal) return false;
  const sender = (ws as unknown as WsPrivate)._sender;
  return sender !== null && sender._state === SENDER_IDLE && sender._queue.length === 0;
}

/**
 * The negotiated permessage-deflate parameters, or `undefined` when it was not negotiated. On the
 * public path the parameters are unknown (an empty object).
 */
export function deflateOf(ws: SocketLike): DeflateParams | undefined {
  if (mode === Internal) {
    const deflate = (ws as unknown as WsPrivate)._extensions["permessage-deflate"];
    return deflate === undefined ? undefined : (deflate.params ?? UNKNOWN_PARAMS);
  }
  return ws.extensions.includes("permessage-deflate") ? UNKNOWN_PARAMS : undefined;
}

/** Whether the private fields are in use: `true`, `false` (public path), or `undefined` before the first connection. */
export function usingInternals(): boolean | undefined {
  return mode === Unchecked ? undefined : mode === Internal;
}

/**
 * @internal for tests: `false` forces the public path, `true` the private fields (unchecked), `undefined`
 * checks again at the next connection.
 */
export function setInternals(use: boolean | undefined): void {
  mode = use === undefined ? Unchecked : use ? Internal : Public;
}

interface FrameOptions {
  fin: boolean;
  mask: boolean;
  opcode: number;
  readOnly: boolean;
  rsv1: boolean;
}

type Framer = { frame(data: Buffer, options: FrameOptions): Buffer[] };

// Looked up on every call (not kept as a function): the module's own export is what runs.
const sender = (ws as unknown as { Sender?: Framer }).Sender;

/**
 * One unmasked, final frame (RFC 6455 section 5.2), header and payload in one buffer: written with one
 * call per recipient.
 */
export function frame(payload: Buffer, binary: boolean, rsv1: boolean): Buffer {
  if (!useWsFramer) return ownFrame(payload, binary, rsv1);
  const parts = sender!.frame(payload, { fin: true, mask: false, opcode: binary ? 2 : 1, readOnly: true, rsv1 });
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/**
 * wsmount's own framer: the payload length in 7 bits, or 126 and 16 bits, or 127 and 64 bits; a server
 * never masks.
 */
export function ownFrame(payload: Buffer, binary: boolean, rsv1: boolean): Buffer {
  const length = payload.length;
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const framed = Buffer.allocUnsafe(headerLength + length);
  framed[0] = 0x80 | (rsv1 ? 0x40 : 0) | (binary ? 0x2 : 0x1);
  if (length < 126) {
    framed[1] = length;
  } else if (length < 65536) {
    framed[1] = 126;
    framed.writeUInt16BE(length, 2);
  } else {
    framed[1] = 127;
    framed.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2);
    framed.writeUInt32BE(length >>> 0, 6);
  }
  payload.copy(framed, headerLength);
  return framed;
}

/** ws's framer is there and frames every length class as RFC 6455 says. */
function wsFramerWorks(): boolean {
  if (sender === undefined || typeof sender.frame !== "function") return false;
  try {
    for (const length of [5, 300, 70_000]) {
      const payload = Buffer.alloc(length, 0x61);
      const parts = sender.frame(payload, { fin: true, mask: false, opcode: 2, readOnly: true, rsv1: true });
      if (!Array.isArray(parts) || !Buffer.concat(parts).equals(ownFrame(payload, true, true))) return false;
    }
    return true;
  } catch {
    return false;
  }
}

let useWsFramer = wsFramerWorks();

/** Whether broadcast frames come from ws's framer (else from wsmount's own). */
export function usingWsFramer(): boolean {
  return useWsFramer;
}

/** @internal for tests: `false` frames with wsmount's own framer, `true` with ws's when it works. */
export function setWsFramer(use: boolean): void {
  useWsFramer = use && wsFramerWorks();
}

// ---------------------------------------------------------------------------------------------------
// The frame engine: ws's Receiver, Sender, PerMessageDeflate and extension header tools, exported by
// ws but not documented (nor declared by @types/ws). wsmount writes the handshake and drives them
// itself (core/engine.ts). They are checked once at start-up by running them on known frames; when the
// check fails (or WSMOUNT_WS_INTERNALS=0), handshakes go through ws's WebSocketServer instead.
// ---------------------------------------------------------------------------------------------------

/** ws's Receiver as wsmount drives it: a Writable of raw bytes that emits frames' meaning. */
export interface ReceiverLike {
  write(chunk: Buffer): boolean;
  end(): void;
  on(event: string, listener: (...args: any[]) => void): unknown;
  removeAllListeners(): unknown;
  readonly writableNeedDrain: boolean;
  readonly writableEnded: boolean;
  readonly writableFinished: boolean;
  readonly destroyed: boolean;
}

/** ws's Sender as wsmount drives it. */
export interface SenderLike {
  send(data: unknown, options: { binary: boolean; compress: boolean; fin: boolean; mask: boolean }, callback?: (error?: Error) => void): void;
  ping(data: unknown, mask: boolean, callback: (() => void) | undefined): void;
  pong(data: unknown, mask: boolean, callback: () => void): void;
  close(code: number | undefined, reason: string | Buffer | undefined, mask: boolean, callback: (error?: Error | null) => void): void;
  onerror: (error: Error) => void;
  readonly _bufferedBytes: number;
}

export interface DeflateLike {
  accept(offers: unknown[]): unknown;
  cleanup(): void;
  params: Readonly<Record<string, unknown>> | null;
}

export interface ExtensionHeader {
  parse(header: string): Record<string, Array<Record<string, Array<string | true>>>>;
  format(extensions: Record<string, Array<Record<string, Array<string | true>>>>): string;
}

export interface EngineParts {
  Receiver: new (options: Record<string, unknown>) => ReceiverLike;
  Sender: new (socket: unknown, extensions: Record<string, unknown>) => SenderLike;
  PerMessageDeflate: new (options: Record<string, unknown>) => DeflateLike;
  extension: ExtensionHeader;
}

/**
 * ws's engine parts when they are there and behave as expected: a masked text frame through the
 * Receiver comes out as the message, the Sender frames a message and a close frame as RFC 6455 says,
 * and the extension header tools parse and format an offer back unchanged. `null` otherwise.
 */
export function probeEngineParts(candidate: Partial<EngineParts>): EngineParts | null {
  try {
    const { Receiver, Sender, PerMessageDeflate, extension } = candidate;
    if (typeof Receiver !== "function" || typeof Sender !== "function" || typeof PerMessageDeflate !== "function") return null;
    if (typeof extension?.parse !== "function" || typeof extension.format !== "function") return null;
    if (typeof PerMessageDeflate.prototype?.accept !== "function" || typeof PerMessageDeflate.prototype.cleanup !== "function") return null;
    if (extension.format(extension.parse("permessage-deflate; client_max_window_bits")) !== "permessage-deflate; client_max_window_bits") return null;

    const receiver = new Receiver({ allowSynchronousEvents: true, binaryType: "nodebuffer", extensions: {}, isServer: true, maxPayload: 1024 });
    let received: unknown = null;
    receiver.on("message", (data: unknown, isBinary: unknown) => (received = [data, isBinary]));
    receiver.on("error", () => (received = null));
    // "hi", masked with 0x01020304, as a client sends it.
    receiver.write(Buffer.from([0x81, 0x82, 0x01, 0x02, 0x03, 0x04, 0x69, 0x6b]));
    if (!Array.isArray(received) || !Buffer.isBuffer(received[0]) || received[0].toString() !== "hi" || received[1] !== false) return null;
    if (typeof receiver.writableNeedDrain !== "boolean" || typeof receiver.removeAllListeners !== "function") return null;

    const written: Buffer[] = [];
    const socket = { write: (chunk: Buffer) => (written.push(Buffer.from(chunk)), true), cork() {}, uncork() {} };
    const sender = new Sender(socket, {});
    if (typeof sender.ping !== "function" || typeof sender.pong !== "function" || !("onerror" in sender)) return null;
    sender.send(Buffer.from("hi"), { binary: false, compress: false, fin: true, mask: false });
    sender.close(1000, undefined, false, () => {});
    if (!Buffer.concat(written).equals(Buffer.from([0x81, 0x02, 0x68, 0x69, 0x88, 0x02, 0x03, 0xe8]))) return null;
    if (sender._bufferedBytes !== 0) return null;
    return { Receiver, Sender, PerMessageDeflate, extension };
  } catch {
    return null;
  }
}

/** The probe's result, whichever path handshakes take. */
export const probedEngineParts: EngineParts | null = probeEngineParts(ws as unknown as Partial<EngineParts>);

/** The engine parts wsmount drives, or `null` when handshakes go through ws's WebSocketServer. */
export function engineParts(): EngineParts | null {
  if (mode === Public) return null;
  if (probedEngineParts === null && !engineWarned) {
    engineWarned = true;
    process.emitWarning(
      "wsmount: this version of ws exports its Receiver, Sender or PerMessageDeflate differently from what wsmount expects; handshakes go through ws's WebSocketServer",
      { code: "WSMOUNT_WS_COMPAT" },
    );
  }
  return probedEngineParts;
}

let engineWarned = false;

const kStatusCodeName = "status-code";
/** ws's errors by code, for a ws whose errors lose the close code they carry (RFC 6455 section 7.4.1). */
const CLOSE_CODES: Readonly<Record<string, number>> = {
  WS_ERR_INVALID_UTF8: 1007,
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 1009,
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: 1009,
  WS_ERR_TOO_MANY_BUFFERED_PARTS: 1008,
};

/**
 * The close code a receiver error asks for. ws keeps it under a private symbol (described
 * "status-code"); without it, the error's code decides, and any other protocol error is 1002.
 */
export function closeCodeOf(error: Error): number {
  for (const symbol of Object.getOwnPropertySymbols(error)) {
    if (symbol.description !== kStatusCodeName) continue;
    const code = (error as unknown as Record<symbol, unknown>)[symbol];
    if (typeof code === "number") return code;
  }
  const code = (error as Error & { code?: unknown }).code;
  if (typeof code !== "string") return 1002;
  // zlib's codes (Z_DATA_ERROR...): a compressed message that does not inflate.
  return CLOSE_CODES[code] ?? (code.startsWith("Z_") ? 1007 : 1002);
}
