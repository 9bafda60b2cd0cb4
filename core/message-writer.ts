/**
 * One outgoing message written as a sequence of fragments, with stream backpressure.
 * @module
 */
import { Writable } from "node:stream";
import type { Connection } from "./connection.js";

const EMPTY = Buffer.alloc(0);

/** A `Writable` whose chunks become the fragments of one WebSocket message. */
export class MessageWriter extends Writable {
  readonly #connection: Connection<unknown>;
  readonly #binary: boolean;
  #complete = false;

  constructor(connection: Connection<unknown>, binary: boolean, highWaterMark: number) {
    super({ highWaterMark, decodeStrings: true });
    this.#connection = connection;
    this.#binary = binary;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#connection._sendFragment(chunk, this.#binary, false, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#connection._sendFragment(EMPTY, this.#binary, true, (error) => {
      this.#complete = error == null;
      this.#connection._streamDone(this, this.#complete);
      callback(error);
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#complete) this.#connection._streamDone(this, false);
    callback(error);
  }
}
