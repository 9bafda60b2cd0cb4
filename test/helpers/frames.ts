/**
 * A WebSocket frame builder and parser for tests that speak RFC 6455 / RFC 7692 byte by byte.
 *
 * Nothing here validates: the builder writes exactly the bits it is asked for (any opcode, any
 * RSV bit, unmasked frames, a length field that lies) so that conformance tests can send what a
 * hostile client would send.
 */
import { constants as zlibConstants, deflateRawSync, inflateRawSync } from "node:zlib";
import { randomBytes } from "node:crypto";

/** Frame opcodes from RFC 6455 §5.2, plus the reserved ranges for tests that send them. */
export const Opcode = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** How the payload length is encoded: RFC 6455 §5.2 "Payload length" (7, 7+16 or 7+64 bits). */
export type LengthEncoding = 7 | 16 | 64;

/** Everything a test can choose about one frame. */
export interface FrameSpec {
  /** Opcode, 0..15 (reserved opcodes included). */
  opcode: number;
  /** Payload bytes; a string is encoded as UTF-8. Default: empty. */
  payload?: Buffer | string;
  /** FIN bit. Default: `true`. */
  fin?: boolean;
  /** RSV1 (the permessage-deflate "compressed" bit). Default: `false`. */
  rsv1?: boolean;
  /** RSV2. Default: `false`. */
  rsv2?: boolean;
  /** RSV3. Default: `false`. */
  rsv3?: boolean;
  /**
   * Masking: `true` masks with a random key (what a client must do), `false` sends the payload
   * unmasked (a protocol error from a client), a 4-byte Buffer masks with that key.
   * Default: `true`.
   */
  mask?: boolean | Buffer;
  /**
   * Force a length encoding even where a shorter one would fit (RFC 6455 asks for the minimal
   * one). Default: the minimal encoding.
   */
  lengthEncoding?: LengthEncoding;
  /** Write this number in the length field instead of the payload's real length. */
  declaredLength?: number | bigint;
}

/** XOR `data` with the 4-byte `key` into a new Buffer (masking and unmasking are the same). */
export function applyMask(data: Buffer, key: Buffer): Buffer {
  const out = Buffer.allocUnsafe(data.length);
  const k0 = key[0] ?? 0;
  const k1 = key[1] ?? 0;
  const k2 = key[2] ?? 0;
  const k3 = key[3] ?? 0;
  const words = data.length - (data.length % 4);
  const kw = key.readUInt32LE(0);
  for (let i = 0; i < words; i += 4) out.writeUInt32LE((data.readUInt32LE(i) ^ kw) >>> 0, i);
  for (let i = words; i < data.length; i++) {
    const k = i % 4 === 0 ? k0 : i % 4 === 1 ? k1 : i % 4 === 2 ? k2 : k3;
    out[i] = (data[i] ?? 0) ^ k;
  }
  return out;
}

function minimalEncoding(length: number): LengthEncoding {
  if (length <= 125) return 7;
  if (length <= 0xffff) return 16;
  return 64;
}

/** Serialise one frame exactly as specified. */
export function buildFrame(spec: FrameSpec): Buffer {
  const payload = typeof spec.payload === "string" ? Buffer.from(spec.payload, "utf8") : (spec.payload ?? Buffer.alloc(0));
  const fin = spec.fin ?? true;
  const maskOption = spec.mask ?? true;
  const key = maskOption === true ? randomBytes(4) : maskOption === false ? undefined : maskOption;
  if (key !== undefined && key.length !== 4) throw new RangeError("mask key must be 4 bytes");
  const length = spec.declaredLength ?? payload.length;
  const encoding = spec.lengthEncoding ?? minimalEncoding(Number(length));

  const lengthBytes = encoding === 7 ? 0 : encoding === 16 ? 2 : 8;
  const header = Buffer.alloc(2 + lengthBytes + (key ? 4 : 0));
  header[0] =
    (fin ? 0x80 : 0) | (spec.rsv1 ? 0x40 : 0) | (spec.rsv2 ? 0x20 : 0) | (spec.rsv3 ? 0x10 : 0) | (spec.opcode & 0x0f);
  if (encoding === 7) {
    if (Number(length) > 125) throw new RangeError("a 7-bit length field holds at most 125");
    header[1] = Number(length);
  } else if (encoding === 16) {
    header[1] = 126;
    header.writeUInt16BE(Number(length), 2);
  } else {
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  if (key) {
    header[1] = (header[1] ?? 0) | 0x80;
    key.copy(header, 2 + lengthBytes);
    return Buffer.concat([header, applyMask(payload, key)]);
  }
  return Buffer.concat([header, payload]);
}

/** Options shared by the shorthand builders. */
export type FrameOptions = Omit<FrameSpec, "opcode" | "payload">;

/** A text frame (FIN set unless told otherwise). */
export const textFrame = (payload: Buffer | string, options: FrameOptions = {}): Buffer =>
  buildFrame({ ...options, opcode: Opcode.text, payload });
/** A binary frame. */
export const binaryFrame = (payload: Buffer | string, options: FrameOptions = {}): Buffer =>
  buildFrame({ ...options, opcode: Opcode.binary, payload });
/** A continuation frame. */
export const continuationFrame = (payload: Buffer | string, options: FrameOptions = {}): Buffer =>
  buildFrame({ ...options, opcode: Opcode.continuation, payload });
/** A ping frame. */
export const pingFrame = (payload: Buffer | string = "", options: FrameOptions = {}): Buffer =>
  buildFrame({ ...options, opcode: Opcode.ping, payload });
/** A pong frame. */
export const pongFrame = (payload: Buffer | string = "", options: FrameOptions = {}): Buffer =>
  buildFrame({ ...options, opcode: Opcode.pong, payload });

/** The payload of a close frame: a 2-byte code then a UTF-8 (or raw) reason. */
export function closePayload(code: number, reason: Buffer | string = ""): Buffer {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code, 0);
  return Buffer.concat([head, typeof reason === "string" ? Buffer.from(reason, "utf8") : reason]);
}

/** A close frame; with no code, an empty close frame. */
export function closeFrame(code?: number, reason: Buffer | string = "", options: FrameOptions = {}): Buffer {
  return buildFrame({ ...options, opcode: Opcode.close, payload: code === undefined ? Buffer.alloc(0) : closePayload(code, reason) });
}

/** Split `payload` into `count` nearly equal chunks (the last may be shorter, never empty unless payload is). */
export function splitInto(payload: Buffer, count: number): Buffer[] {
  const size = Math.max(1, Math.ceil(payload.length / count));
  const parts: Buffer[] = [];
  for (let i = 0; i < payload.length; i += size) parts.push(payload.subarray(i, i + size));
  return parts.length > 0 ? parts : [payload];
}

/** One message as a sequence of frames: first with `opcode`, the rest continuations, FIN on the last. */
export function fragmentedMessage(opcode: number, parts: Array<Buffer | string>, options: FrameOptions = {}): Buffer[] {
  return parts.map((part, i) =>
    buildFrame({ ...options, opcode: i === 0 ? opcode : Opcode.continuation, payload: part, fin: i === parts.length - 1 }),
  );
}

const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * Compress one message as RFC 7692 §7.2.1 describes: raw DEFLATE ending in an empty stored block
 * (a sync flush) whose 4-byte tail `00 00 ff ff` is removed. Each call starts a fresh compressor,
 * so the result is valid with or without context takeover on the receiver.
 */
export function deflateMessage(data: Buffer | string, windowBits = 15): Buffer {
  const compressed = deflateRawSync(typeof data === "string" ? Buffer.from(data) : data, {
    finishFlush: zlibConstants.Z_SYNC_FLUSH,
    windowBits,
  });
  if (!compressed.subarray(-4).equals(DEFLATE_TAIL)) throw new Error("deflate output lacks the sync-flush tail");
  return compressed.subarray(0, -4);
}

/** Inflate one message that a peer compressed without context takeover (RFC 7692 §7.2.2). */
export function inflateMessage(data: Buffer): Buffer {
  return inflateRawSync(Buffer.concat([data, DEFLATE_TAIL]), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
}

/** One frame as parsed from a server. */
export interface ParsedFrame {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  masked: boolean;
  /** Unmasked payload. */
  payload: Buffer;
}

/** Close code and reason decoded from a close frame's payload; `code` is undefined for an empty one. */
export interface ClosePayload {
  code: number | undefined;
  reason: Buffer;
}

/** Decode a close frame's payload (RFC 6455 §5.5.1). */
export function parseClosePayload(payload: Buffer): ClosePayload {
  if (payload.length < 2) return { code: undefined, reason: Buffer.alloc(0) };
  return { code: payload.readUInt16BE(0), reason: payload.subarray(2) };
}

/**
 * An incremental frame parser: `push` bytes as they arrive, `shift` complete frames out.
 * Payloads over `maxPayload` (default 64 MiB) are reported as an error rather than buffered.
 */
export class FrameParser {
  #buffer: Buffer = Buffer.alloc(0);
  #frames: ParsedFrame[] = [];
  readonly #maxPayload: number;

  constructor(maxPayload = 64 * 1024 * 1024) {
    this.#maxPayload = maxPayload;
  }

  /** Bytes received but not yet part of a complete frame. */
  get pendingBytes(): number {
    return this.#buffer.length;
  }

  /** Append received bytes and parse every complete frame they finish. */
  push(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const frame = this.#parseOne();
      if (frame === undefined) return;
      this.#frames.push(frame);
    }
  }

  /** The oldest complete frame, removed from the queue. */
  shift(): ParsedFrame | undefined {
    return this.#frames.shift();
  }

  #parseOne(): ParsedFrame | undefined {
    const buf = this.#buffer;
    if (buf.length < 2) return undefined;
    const b0 = buf[0] ?? 0;
    const b1 = buf[1] ?? 0;
    let offset = 2;
    let length = b1 & 0x7f;
    if (length === 126) {
      if (buf.length < 4) return undefined;
      length = buf.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (buf.length < 10) return undefined;
      const big = buf.readBigUInt64BE(2);
      if (big > BigInt(this.#maxPayload)) throw new RangeError(`server frame of ${big} bytes exceeds the test limit`);
      length = Number(big);
      offset = 10;
    }
    const masked = (b1 & 0x80) !== 0;
    const key = masked ? buf.subarray(offset, offset + 4) : undefined;
    if (masked) offset += 4;
    if (buf.length < offset + length) return undefined;
    const raw = buf.subarray(offset, offset + length);
    this.#buffer = buf.subarray(offset + length);
    return {
      fin: (b0 & 0x80) !== 0,
      rsv1: (b0 & 0x40) !== 0,
      rsv2: (b0 & 0x20) !== 0,
      rsv3: (b0 & 0x10) !== 0,
      opcode: b0 & 0x0f,
      masked,
      payload: key && key.length === 4 ? applyMask(raw, key) : Buffer.from(raw),
    };
  }
}
