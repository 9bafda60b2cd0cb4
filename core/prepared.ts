/**
 * A message encoded and framed once for many recipients. The plain frame serves every recipient that
 * gets it uncompressed; one deflated frame per window size serves every recipient whose
 * permessage-deflate session has `server_no_context_takeover`, since then each message is compressed
 * on its own (RFC 7692 section 7.1.1.1) and the same bytes are right for all of them.
 * @module
 */
import { constants, deflateRawSync } from "node:zlib";
import { frame } from "./ws-compat.js";

// RFC 7692 section 7.2.1: the compressed payload omits the final empty stored block's 00 00 ff ff.
const TRAILER_LENGTH = 4;

/** Compression settings for deflated frames. */
export interface DeflateSettings {
  readonly threshold: number;
  readonly level: number;
  readonly memLevel: number;
}

/** One outgoing message, framed once. */
export class PreparedMessage {
  /** The message payload. */
  readonly data: Buffer;
  readonly binary: boolean;
  readonly #original: string | Uint8Array;
  #plain: Buffer | null = null;
  #deflated: Map<number, Buffer> | null = null;

  constructor(data: string | Uint8Array, binary: boolean) {
    this.#original = data;
    this.data = typeof data === "string" ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.binary = binary;
  }

  /** What to hand to `ws.send` when a recipient cannot take a prepared frame. */
  get original(): string | Uint8Array {
    return this.#original;
  }

  /** The uncompressed frame: one buffer, header and payload, written with one call per recipient. */
  plainFrame(): Buffer {
    return (this.#plain ??= frame(this.data, this.binary, false));
  }

  /** The frame compressed with a `windowBits` window and no context takeover. */
  deflatedFrame(windowBits: number, settings: DeflateSettings): Buffer {
    this.#deflated ??= new Map();
    let framed = this.#deflated.get(windowBits);
    if (framed === undefined) {
      const compressed = deflateRawSync(this.data, {
        level: settings.level,
        memLevel: settings.memLevel,
        windowBits,
        finishFlush: constants.Z_SYNC_FLUSH,
      });
      framed = frame(compressed.subarray(0, compressed.length - TRAILER_LENGTH), this.binary, true);
      this.#deflated.set(windowBits, framed);
    }
    return framed;
  }
}
