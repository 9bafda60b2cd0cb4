/**
 * The broker's message signatures: HMAC-SHA256 with the shared secret of every process of the
 * application, over the Redis channel's name and the whole message, so that a message is accepted
 * only on the channel it was signed for. One key signs; up to two are accepted while a secret is
 * being rotated. Each key has a 4-byte id, carried in the message, so that a receiver computes one
 * HMAC per message whichever key signed it.
 *
 * Signing is integrity, not confidentiality: anyone who can read Redis reads the messages (see
 * docs/scaling.md, "Who can do what").
 * @module
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/** Bytes of a signature (HMAC-SHA256), at the end of a signed message. */
export const MAC_BYTES = 32;
/** Bytes of a key id. */
export const KEY_ID_BYTES = 4;
/** The key id of an unsigned message. */
export const UNSIGNED = 0;

/** The shortest secret accepted, in bytes: an HMAC key below the hash's own strength invites guessing. */
export const MIN_SECRET_BYTES = 32;

interface Key {
  readonly id: number;
  readonly bytes: Buffer;
}

/** Why a signed message was refused (or `"ok"`). */
export type Verdict = "ok" | "unsigned" | "unknown key" | "bad signature";

/** Signs and verifies the messages of one broker. */
export class Signer {
  /** The signing key first, then the one still accepted; empty when signing is disabled. */
  readonly #keys: readonly Key[];

  /** @param secrets the keys, signing key first; none: messages go unsigned and everything is accepted */
  constructor(secrets: readonly Buffer[]) {
    this.#keys = secrets.map((bytes) => ({ id: keyId(bytes), bytes: Buffer.from(bytes) }));
  }

  /** Messages are signed, and unsigned ones refused. */
  get enabled(): boolean {
    return this.#keys.length > 0;
  }

  /** The key id to write into a message (0 when unsigned). */
  get keyId(): number {
    return this.#keys[0]?.id ?? UNSIGNED;
  }

  /** Bytes a signature adds at the end of a message. */
  get macBytes(): number {
    return this.enabled ? MAC_BYTES : 0;
  }

  /**
   * Writes the signature of `message` (everything before its last {@link MAC_BYTES}) for `channel`
   * into those last bytes. Nothing to do when signing is disabled.
   */
  sign(channel: Buffer, message: Buffer): void {
    const key = this.#keys[0];
    if (key === undefined) return;
    const end = message.length - MAC_BYTES;
    mac(key.bytes, channel, message.subarray(0, end)).copy(message, end);
  }

  /**
   * Checks the signature of a message whose key id is `id`. With signing disabled every message is
   * accepted (a signed one too: its signature is not checked).
   */
  verify(channel: Buffer, message: Buffer, id: number): Verdict {
    if (!this.enabled) return "ok";
    if (id === UNSIGNED) return "unsigned";
    if (message.length < MAC_BYTES) return "bad signature";
    const end = message.length - MAC_BYTES;
    const expected = message.subarray(end);
    let known = false;
    for (const key of this.#keys) {
      if (key.id !== id) continue;
      known = true;
      // Two keys with one id (1 in 2^32) cost a second HMAC, never a wrong answer.
      if (timingSafeEqual(mac(key.bytes, channel, message.subarray(0, end)), expected)) return "ok";
    }
    return known ? "bad signature" : "unknown key";
  }
}

/** The channel's name as it enters a signature: its length first, so that no two (channel, message) pairs run together. */
export function channelTag(channel: string): Buffer {
  const name = Buffer.from(channel);
  const tag = Buffer.allocUnsafe(4 + name.length);
  tag.writeUInt32BE(name.length, 0);
  name.copy(tag, 4);
  return tag;
}

function mac(key: Buffer, channel: Buffer, body: Buffer): Buffer {
  return createHmac("sha256", key).update(channel).update(body).digest();
}

/** A key's id: derived from the key, never 0 (the id of unsigned messages). */
function keyId(key: Buffer): number {
  const id = createHash("sha256").update("wsmount broker key id\n").update(key).digest().readUInt32BE(0);
  return id === UNSIGNED ? 1 : id;
}
