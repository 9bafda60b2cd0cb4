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
    this.#connection._sendFragment(chunk, this.#binary, false, (error) => this.#written(error, callback));
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#connection._sendFragment(EMPTY, this.#binary, true, (error) => {
      this.#complete = error == null;
      if (this.#complete) this.#connection._streamDone(this, true);
      this.#written(error, callback);
    });
  }

  /**
   * A peer that leaves mid-message is the connection's affair, not a stream error: it goes to the
   * connection's error handlers and the writer is destroyed quietly, so that a writer without an
   * 'error' listener cannot crash the process. Its own 'error' listeners, if any, still hear of it.
   */
  #written(error: Error | null | undefined, callback: (error?: Error | null) => void): void {
    if (error == null) {
      callback();
      return;
    }
    if (this.listenerCount("error") > 0) {
      callback(error);
      return;
    }
    this.#connection._error(error);
    callback();
    this.destroy();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#complete) this.#connection._streamDone(this, false);
    callback(error);
  }
}
