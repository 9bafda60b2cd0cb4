/**
 * Everything a connection sends, in order, with every byte counted: `send` and event envelopes,
 * broadcast frames, the fragments of a streamed message, and the messages that wait while a streamed
 * message is in progress. `bufferedAmount` is what `ws` holds plus what waits here, and the
 * `maxBufferedAmount` check sees all of it: a message (or a chunk of a streamed message) that would
 * take the total past the limit is refused and the `backpressure` policy applies. Only on a
 * connection that holds nothing may one message be larger than the limit, so a connection holds at
 * most `max(maxBufferedAmount, its largest single message)` in user space.
 *
 * The per-connection part ({@link Outbox}) is made on the first `stream()`; until then a send goes
 * straight to `ws` through {@link write} with nothing allocated. Sockets written to are corked until
 * the end of the event-loop pass (write batching); broadcasts write one shared frame to every
 * recipient whose `ws` has nothing queued.
 *
 * Compression (one rule for `send`, broadcasts and streams): with permessage-deflate negotiated, a
 * message is compressed when its payload is at least `compression.threshold` bytes (a streamed
 * message: its first fragment), unless `compress: false` was given.
 * @module
 */
import { Writable } from "node:stream";
import { ErrorCode, WsmountError } from "./errors.js";
import type { ResolvedOptions } from "./options.js";
import { PreparedMessage } from "./prepared.js";
import type { Counters } from "./stats.js";
import { ReadyState, type SendData, type SendOptions, type SocketLike } from "./types.js";
import { deflateOf, senderIdle, socketOf } from "./ws-compat.js";

/** What the outbox needs of the endpoint. */
export interface OutboxHost {
  readonly options: ResolvedOptions<any>;
  readonly counters: Counters;
}

/** What the outbox needs of its connection. */
export interface OutboxOwner {
  /** Over `maxBufferedAmount`: the policy decides (`"drop"` counts the message, `"close"` closes with 1013). */
  _overLimit(): void;
  /** Over `maxBufferedAmount` where nothing can be dropped (part of a message is out): closes with 1013. */
  _closeOverLimit(): void;
  /** An error of the connection, for its error handlers. */
  _error(error: Error): void;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
}

/** What became of a message. */
export const Written = {
  /** Handed to `ws`. */
  Sent: 0,
  /** Waits in the outbox behind the streamed message in progress. */
  Held: 1,
  /** Not sent: the connection is not open. */
  NotOpen: 2,
  /** Not sent: it would take `bufferedAmount` past `maxBufferedAmount` (the caller applies the policy). */
  OverLimit: 3,
} as const;
export type Written = (typeof Written)[keyof typeof Written];

/**
 * Sends `data` now, or holds it behind a streamed message in progress, unless it would take the
 * connection past `maxBufferedAmount`. The path of every `send` and event envelope.
 */
export function write(host: OutboxHost, ws: SocketLike, outbox: Outbox | null, data: SendData, options: SendOptions | undefined): Written {
  if (ws.readyState !== ReadyState.OPEN) return Written.NotOpen;
  const buffered = outbox === null ? ws.bufferedAmount : ws.bufferedAmount + outbox.held;
  if (wouldExceed(buffered, data, host.options.maxBufferedAmount)) return Written.OverLimit;
  if (outbox !== null && outbox.streaming) {
    outbox.hold(data, options);
    return Written.Held;
  }
  sendNow(ws, data, options, host.options.compression);
  host.counters.messagesOut++;
  return Written.Sent;
}

/** As {@link write}, for a broadcast message framed once for many recipients. */
export function writePrepared(host: OutboxHost, ws: SocketLike, outbox: Outbox | null, message: PreparedMessage): Written {
  if (ws.readyState !== ReadyState.OPEN) return Written.NotOpen;
  const buffered = outbox === null ? ws.bufferedAmount : ws.bufferedAmount + outbox.held;
  if (buffered !== 0 && buffered + message.data.length > host.options.maxBufferedAmount) return Written.OverLimit;
  if (outbox !== null && outbox.streaming) {
    outbox.hold(message, undefined);
    return Written.Held;
  }
  sendPreparedNow(ws, message, host.options.compression);
  host.counters.messagesOut++;
  return Written.Sent;
}

/**
 * True when `data` would take `buffered` bytes past `limit`. With nothing buffered, any one message
 * fits: a message larger than the limit goes out on a connection that holds nothing else. Strings
 * are measured only near the limit.
 */
export function wouldExceed(buffered: number, data: SendData, limit: number): boolean {
  if (buffered === 0) return false;
  if (typeof data === "string") {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit: far from the limit there is nothing to measure.
    if (buffered + data.length * 3 <= limit) return false;
    return buffered + Buffer.byteLength(data) > limit;
  }
  return buffered + data.byteLength > limit;
}

/** The payload size of `data` in bytes. */
export function byteLengthOf(data: SendData): number {
  return typeof data === "string" ? Buffer.byteLength(data) : data.byteLength;
}

/** Whether a payload of `data` is under `threshold` bytes (strings measured only when it matters). */
function isBelow(data: SendData, threshold: number): boolean {
  if (typeof data === "string") {
    if (data.length >= threshold) return false;
    if (data.length * 3 < threshold) return true;
    return Buffer.byteLength(data) < threshold;
  }
  return data.byteLength < threshold;
}

// Shared option objects for ws.send: none is made per message.
const UNCOMPRESSED = Object.freeze({ compress: false });
const UNCOMPRESSED_TEXT = Object.freeze({ compress: false, binary: false });
const UNCOMPRESSED_BINARY = Object.freeze({ compress: false, binary: true });
const COMPRESSED_TEXT = Object.freeze({ compress: true, binary: false });
const COMPRESSED_BINARY = Object.freeze({ compress: true, binary: true });

type Compression = ResolvedOptions["compression"];

/** Hands one message to `ws`, applying the compression threshold. */
function sendNow(ws: SocketLike, data: SendData, options: SendOptions | undefined, compression: Compression): void {
  const socket = socketOf(ws);
  if (socket !== null) corkForThisPass(socket);
  if (compression !== false && (options === undefined || options.compress !== false) && isBelow(data, compression.threshold) && deflateOf(ws) !== undefined) {
    const binary = options?.binary;
    ws.send(data, binary === undefined ? UNCOMPRESSED : binary ? UNCOMPRESSED_BINARY : UNCOMPRESSED_TEXT);
    return;
  }
  if (options === undefined) ws.send(data);
  else if (ws.attach === undefined) ws.send(data, definedOptions(options));
  else ws.send(data, options);
}

/**
 * The options without the ones given as `undefined`: ws's own WebSocket (the fallback path) spreads
 * every key over its defaults, so `{ binary: undefined }` would turn bytes into a text frame.
 */
function definedOptions(options: SendOptions): SendOptions {
  const defined: SendOptions = {};
  if (options.binary !== undefined) defined.binary = options.binary;
  if (options.compress !== undefined) defined.compress = options.compress;
  return defined;
}

/**
 * Writes a prepared message: the shared frame straight to the socket when `ws` has nothing queued
 * (a frame must not overtake a message still being compressed), else through `ws.send`.
 */
function sendPreparedNow(ws: SocketLike, message: PreparedMessage, compression: Compression): void {
  const deflate = compression === false ? undefined : deflateOf(ws);
  const compress = deflate !== undefined && compression !== false && message.data.length >= compression.threshold;
  const socket = socketOf(ws);
  if (socket !== null) {
    corkForThisPass(socket);
    if (senderIdle(ws)) {
      if (!compress) {
        socket.write(message.plainFrame());
        return;
      }
      if (deflate.server_no_context_takeover === true) {
        const bits = deflate.server_max_window_bits;
        socket.write(message.deflatedFrame(typeof bits === "number" ? bits : 15, compression));
        return;
      }
      // With context takeover the peer's compression state carries over: only ws can compress for it.
    }
  }
  ws.send(message.original, message.binary ? (compress ? COMPRESSED_BINARY : UNCOMPRESSED_BINARY) : compress ? COMPRESSED_TEXT : UNCOMPRESSED_TEXT);
}

// Fragment options by (binary, fin, compress): shared, none made per fragment.
const FRAGMENT_OPTIONS = [false, true].flatMap((binary) =>
  [false, true].flatMap((fin) => [false, true].map((compress) => Object.freeze({ binary, fin, compress }))),
);

function fragmentOptions(binary: boolean, fin: boolean, compress: boolean): { binary: boolean; fin: boolean; compress: boolean } {
  return FRAGMENT_OPTIONS[(binary ? 4 : 0) + (fin ? 2 : 0) + (compress ? 1 : 0)]!;
}

/**
 * The part of a connection's outbox that needs state: a streamed message in progress and the messages
 * that wait for it to end. Made on the connection's first `stream()`.
 */
export class Outbox {
  readonly #ws: SocketLike;
  readonly #host: OutboxHost;
  readonly #owner: OutboxOwner;
  #writer: MessageWriter | null = null;
  /** A fragment of the streamed message has been handed to ws. */
  #started = false;
  /** Messages waiting for the streamed message to end: each as its data (or prepared message), then its options. */
  #waiting: Array<SendData | PreparedMessage | SendOptions | undefined> = [];
  #waitingBytes = 0;
  /** The fragment ws has and has not finished writing (counted by ws and by the writer: taken off once). */
  #inFlight = 0;
  #fragmentCallback: ((error?: Error | null) => void) | null = null;
  readonly #fragmentWritten = (error?: Error | null): void => {
    const callback = this.#fragmentCallback;
    this.#fragmentCallback = null;
    this.#inFlight = 0;
    callback?.(error);
  };

  constructor(ws: SocketLike, host: OutboxHost, owner: OutboxOwner) {
    this.#ws = ws;
    this.#host = host;
    this.#owner = owner;
  }

  /** A streamed message is in progress: other messages wait. */
  get streaming(): boolean {
    return this.#writer !== null;
  }

  /** Bytes held here, not yet handed to ws: waiting messages, and stream chunks the writer buffers. */
  get held(): number {
    const writer = this.#writer;
    return writer === null ? this.#waitingBytes : this.#waitingBytes + writer.writableLength - this.#inFlight;
  }

  /** Holds a message until the streamed message ends. */
  hold(data: SendData | PreparedMessage, options: SendOptions | undefined): void {
    this.#waiting.push(data, options);
    this.#waitingBytes += data instanceof PreparedMessage ? data.data.length : byteLengthOf(data);
  }

  /** Starts a streamed message (the caller checked that none is in progress). */
  stream(binary: boolean): MessageWriter {
    const writer = new MessageWriter(this, binary, this.#host.options.writeBufferSize);
    this.#writer = writer;
    this.#started = false;
    return writer;
  }

  /** The connection closed: what waits is dropped, and a streamed message in progress fails. */
  closed(): void {
    this.#dropWaiting();
    const writer = this.#writer;
    if (writer !== null && !writer.destroyed) {
      writer.destroy(new WsmountError(ErrorCode.NOT_OPEN, "wsmount: the connection closed during a streamed message"));
    }
  }

  /** @internal whether `size` more bytes of the streamed message fit under `maxBufferedAmount`. */
  _admits(size: number): boolean {
    const buffered = this.#ws.bufferedAmount + this.held;
    return buffered === 0 || buffered + size <= this.#host.options.maxBufferedAmount;
  }

  /**
   * @internal a chunk of the streamed message does not fit. Before any fragment is out, the policy
   * decides (`"drop"`: the whole message is dropped and the connection goes on); after, a half-sent
   * message cannot be taken back and the connection closes with 1013 whatever the policy.
   */
  _refuse(writer: MessageWriter): void {
    if (this.#started) this.#owner._closeOverLimit();
    else this.#owner._overLimit();
    writer._fail(
      new WsmountError(ErrorCode.BACKPRESSURE, "wsmount: a chunk of the streamed message would take the connection's buffered amount past maxBufferedAmount"),
    );
  }

  /** @internal hands one fragment to ws; `callback` runs once the socket has taken it. */
  _fragment(chunk: Buffer, binary: boolean, fin: boolean, callback: (error?: Error | null) => void): void {
    const ws = this.#ws;
    if (ws.readyState !== ReadyState.OPEN) {
      callback(new WsmountError(ErrorCode.NOT_OPEN, "wsmount: the connection closed during a streamed message"));
      return;
    }
    let compress = false;
    if (!this.#started) {
      this.#started = true;
      const { compression } = this.#host.options;
      compress = compression !== false && chunk.length >= compression.threshold && deflateOf(ws) !== undefined;
    }
    this.#inFlight = chunk.length;
    this.#fragmentCallback = callback;
    ws.send(chunk, fragmentOptions(binary, fin, compress), this.#fragmentWritten);
    if (fin) this.#host.counters.messagesOut++;
  }

  /** @internal the streamed message ended (complete), or its writer was destroyed before. */
  _ended(writer: MessageWriter, complete: boolean): void {
    if (this.#writer !== writer) return;
    this.#writer = null;
    this.#inFlight = 0;
    this.#fragmentCallback = null;
    const started = this.#started;
    this.#started = false;
    if (!complete && started) {
      // A half-sent message cannot be taken back, and ws would send what follows as its continuation.
      this.#dropWaiting();
      this.#owner.close(1011, "streamed message aborted");
      return;
    }
    this.#flush();
  }

  /** @internal an error of the writer that nobody else listens to. */
  _report(error: Error): void {
    this.#owner._error(error);
  }

  #flush(): void {
    const waiting = this.#waiting;
    if (waiting.length === 0) return;
    this.#waiting = [];
    this.#waitingBytes = 0;
    const ws = this.#ws;
    const { options, counters } = this.#host;
    // Admitted when they were held: written now in order, without a second check.
    for (let i = 0; i < waiting.length; i += 2) {
      if (ws.readyState !== ReadyState.OPEN) return;
      const item = waiting[i];
      if (item instanceof PreparedMessage) sendPreparedNow(ws, item, options.compression);
      else sendNow(ws, item as SendData, waiting[i + 1] as SendOptions | undefined, options.compression);
      counters.messagesOut++;
    }
  }

  #dropWaiting(): void {
    if (this.#waiting.length > 0) this.#waiting = [];
    this.#waitingBytes = 0;
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * A `Writable` whose chunks become the fragments of one WebSocket message, with stream backpressure
 * (`write()` returns false past `writeBufferSize`; `'drain'` follows). A chunk that would take the
 * connection past `maxBufferedAmount` is refused (see {@link Outbox._refuse}). The writer is
 * destroyed with `ERR_WSMOUNT_NOT_OPEN` when its connection closes first. Errors nobody listens to
 * on the writer go to the connection's error handlers instead of crashing the process.
 */
export class MessageWriter extends Writable {
  readonly #outbox: Outbox;
  readonly #binary: boolean;
  #complete = false;
  /** An error the outbox already reported through the connection (not reported twice). */
  #reported: Error | null = null;

  /** @internal made by `Connection.stream()` */
  constructor(outbox: Outbox, binary: boolean, highWaterMark: number) {
    super({ highWaterMark, decodeStrings: true });
    this.#outbox = outbox;
    this.#binary = binary;
    this.on("error", writerOnError);
  }

  override write(chunk: any, encoding?: any, callback?: any): boolean {
    this.#admit(chunk, encoding);
    return super.write(chunk, encoding, callback);
  }

  override end(chunk?: any, encoding?: any, callback?: any): this {
    if (chunk !== null && chunk !== undefined && typeof chunk !== "function") this.#admit(chunk, encoding);
    return super.end(chunk, encoding, callback);
  }

  // A refused chunk destroys the writer; Node then answers the write itself (ERR_STREAM_DESTROYED).
  #admit(chunk: unknown, encoding: unknown): void {
    if (this.destroyed || this.writableEnded) return;
    const size =
      typeof chunk === "string"
        ? Buffer.byteLength(chunk, typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8")
        : chunk instanceof Uint8Array
          ? chunk.byteLength
          : 0;
    if (!this.#outbox._admits(size)) this.#outbox._refuse(this);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#outbox._fragment(chunk, this.#binary, false, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#outbox._fragment(EMPTY, this.#binary, true, (error) => {
      if (error == null) {
        this.#complete = true;
        this.#outbox._ended(this, true);
      }
      callback(error);
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#complete) this.#outbox._ended(this, false);
    callback(error);
  }

  /** @internal destroys the writer with an error already reported through the connection. */
  _fail(error: Error): void {
    this.#reported = error;
    this.destroy(error);
  }

  /** @internal the writer's own 'error' listener: with no other listener, the connection hears of it. */
  _unheard(error: Error): void {
    if (error === this.#reported || this.listenerCount("error") > 1) return;
    this.#outbox._report(error);
  }
}

function writerOnError(this: MessageWriter, error: Error): void {
  this._unheard(error);
}

/** The part of a socket that corking needs. */
export interface Corkable {
  cork(): void;
  uncork(): void;
  readonly destroyed: boolean;
}

const kCorked = Symbol("wsmount.corked");
type Tracked = Corkable & { [kCorked]?: boolean };
let corked: Tracked[] = [];
let scheduled = false;

/**
 * Write batching: a socket written to stays corked until the end of the current event-loop pass, so
 * everything it gets in that pass leaves in one write (writev) instead of one system call per
 * message. Order is kept: everything written while corked is flushed in order.
 */
export function corkForThisPass(socket: Corkable): void {
  const tracked = socket as Tracked;
  if (tracked[kCorked] === true) return;
  tracked[kCorked] = true;
  socket.cork();
  corked.push(tracked);
  if (!scheduled) {
    scheduled = true;
    setImmediate(uncorkAll);
  }
}

function uncorkAll(): void {
  const sockets = corked;
  corked = [];
  scheduled = false;
  for (const socket of sockets) {
    socket[kCorked] = false;
    if (!socket.destroyed) socket.uncork();
  }
}
