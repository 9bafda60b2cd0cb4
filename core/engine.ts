/**
 * A server-side WebSocket on an upgraded socket: `ws`'s frame engine (its `Receiver`, `Sender` and
 * `PerMessageDeflate`) driven by wsmount, which owns the connection's state and its close. It behaves
 * as `ws`'s own `WebSocket` does on the server (RFC 6455 section 7 closing handshake, automatic pongs,
 * the close timer, the same close codes), with two differences: it reports to one sink (the
 * `Connection`) instead of emitting events, and a normal close creates no `Error` objects (`ws` ends
 * streams that already ended, which makes Node build an error with a stack trace each time).
 * @module
 */
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { SendData, SocketSink } from "./types.js";
import { ReadyState } from "./types.js";
import { closeCodeOf, type EngineParts, type ReceiverLike, type SenderLike } from "./ws-compat.js";


export interface EngineOptions {
  readonly maxPayload: number;
  readonly maxFragments: number;
  /** How long the peer has to answer our close frame before the socket is destroyed. */
  readonly closeTimeout: number;
  /** Pongs not yet written before a peer that keeps pinging is cut (as ws's `maxPendingAutoPongs`). */
  readonly maxPendingPongs: number;
}

/** The negotiated extensions, as `ws`'s receiver and sender take them. */
export type Extensions = Record<string, { cleanup(): void; params: Readonly<Record<string, unknown>> | null }>;

const kEngine = Symbol("wsmount.engine");

/** Our close frame is written. */
const CLOSE_SENT = 1;
/** The peer's close frame arrived. */
const CLOSE_RECEIVED = 2;
/** An error was reported (once per connection, as ws emits one 'error'). */
const ERROR_REPORTED = 4;
/** The application paused reading. */
const PAUSED = 8;
/** The socket closed: its listeners are gone. */
const DETACHED = 16;
/** The receiver emitted 'error' (a protocol violation): nothing more is read. */
const RECEIVER_FAILED = 32;
const EMPTY = Buffer.alloc(0);

type Owned<T> = T & { [kEngine]: Engine };

// Sender options by (binary, compress, fin): shared, none made per message.
const SEND_OPTIONS = [false, true].flatMap((binary) =>
  [false, true].flatMap((compress) => [false, true].map((fin) => Object.freeze({ binary, compress, fin, mask: false }))),
);

export class Engine {
  readyState: number = ReadyState.OPEN;
  readonly protocol: string;
  /** @internal read by ws-compat (the same field names as ws's WebSocket) */
  readonly _socket: Socket;
  /** @internal */
  readonly _sender: SenderLike;
  /** @internal */
  readonly _extensions: Extensions;
  /** @internal */
  readonly _receiver: ReceiverLike;
  readonly #options: EngineOptions;
  #sink: SocketSink | null = null;
  #closeCode = 1006;
  #closeMessage: Buffer = EMPTY;
  /** The booleans below, in one field (a connection holds one engine for its life). */
  #flags = 0;
  #pendingPongs = 0;
  #closeTimer: NodeJS.Timeout | null = null;

  constructor(parts: EngineParts, socket: Duplex, head: Buffer, protocol: string, extensions: Extensions, options: EngineOptions) {
    this.protocol = protocol;
    this._socket = socket as Socket;
    this._extensions = extensions;
    this.#options = options;
    const receiver = new parts.Receiver({
      allowSynchronousEvents: true,
      binaryType: "nodebuffer",
      extensions,
      isServer: true,
      // ws's server default: chunks of a message in progress kept before the receiver stops.
      maxBufferedChunks: 256 * 1024,
      maxFragments: options.maxFragments,
      maxPayload: options.maxPayload,
      skipUTF8Validation: false,
    });
    const sender = new parts.Sender(socket, extensions);
    this._receiver = receiver;
    this._sender = sender;
    (receiver as Owned<ReceiverLike>)[kEngine] = this;
    (sender as Owned<SenderLike>)[kEngine] = this;
    (socket as Owned<Duplex>)[kEngine] = this;
    receiver.on("conclude", receiverOnConclude);
    receiver.on("drain", receiverOnDrain);
    receiver.on("error", receiverOnError);
    receiver.on("message", receiverOnMessage);
    receiver.on("ping", receiverOnPing);
    receiver.on("pong", receiverOnPong);
    sender.onerror = senderOnError;
    const tcp = socket as Partial<Socket>;
    if (typeof tcp.setTimeout === "function") tcp.setTimeout(0);
    if (typeof tcp.setNoDelay === "function") tcp.setNoDelay();
    if (head.length > 0) socket.unshift(head);
    socket.on("close", socketOnClose);
    socket.on("data", socketOnData);
    socket.on("end", socketOnEnd);
    socket.on("error", socketOnError);
  }

  /** Reports to `sink` from now on. */
  attach(sink: SocketSink): void {
    this.#sink = sink;
  }

  get extensions(): string {
    return Object.keys(this._extensions).join();
  }

  get bufferedAmount(): number {
    return this._socket.writableLength + this._sender._bufferedBytes;
  }

  send(data: SendData, options?: { binary?: boolean; compress?: boolean; fin?: boolean }, callback?: (error?: Error) => void): void {
    if (this.readyState !== ReadyState.OPEN) {
      if (callback !== undefined) process.nextTick(callback, new Error(`WebSocket is not open: readyState ${this.readyState}`));
      return;
    }
    const binary = options?.binary ?? typeof data !== "string";
    const compress = (options?.compress ?? true) && this._extensions["permessage-deflate"] !== undefined;
    const fin = options?.fin ?? true;
    this._sender.send(data, SEND_OPTIONS[(binary ? 4 : 0) + (compress ? 2 : 0) + (fin ? 1 : 0)]!, callback);
  }

  ping(data?: SendData): void {
    if (this.readyState !== ReadyState.OPEN) return;
    this._sender.ping(data ?? EMPTY, false, undefined);
  }

  /** Starts the closing handshake, or ends the socket when both close frames have been exchanged. */
  close(code?: number, reason?: string | Buffer): void {
    if (this.readyState === ReadyState.CLOSED) return;
    if (this.readyState === ReadyState.CLOSING) {
      if ((this.#flags & CLOSE_SENT) !== 0 && (this.#flags & (CLOSE_RECEIVED | RECEIVER_FAILED)) !== 0) this.#endSocket();
      return;
    }
    // Validates the code and the reason (throws) before anything changes.
    this._sender.close(code, reason, false, (error?: Error | null) => this.#closeFrameWritten(error));
    this.readyState = ReadyState.CLOSING;
    this.#startCloseTimer();
  }

  /** Destroys the socket at once. */
  terminate(): void {
    if (this.readyState === ReadyState.CLOSED) return;
    this.readyState = ReadyState.CLOSING;
    this._socket.destroy();
  }

  pause(): void {
    if (this.readyState === ReadyState.CLOSED) return;
    this.#flags |= PAUSED;
    this._socket.pause();
  }

  resume(): void {
    if (this.readyState === ReadyState.CLOSED) return;
    this.#flags &= ~PAUSED;
    if (!this._receiver.writableNeedDrain) this._socket.resume();
  }

  #closeFrameWritten(error: Error | null | undefined): void {
    // A write error is handled by the socket's 'error' listener: only a written frame counts.
    if (error) return;
    this.#flags |= CLOSE_SENT;
    if ((this.#flags & (CLOSE_RECEIVED | RECEIVER_FAILED)) !== 0) this.#endSocket();
  }

  #startCloseTimer(): void {
    if (this.#closeTimer === null) this.#closeTimer = setTimeout(destroySocket, this.#options.closeTimeout, this._socket);
  }

  /** `end()` only once: ending an ended stream makes Node create an error with a stack trace. */
  #endSocket(): void {
    const socket = this._socket;
    if (!socket.writableEnded && !socket.destroyed) socket.end();
  }

  #endReceiver(): void {
    const receiver = this._receiver;
    if (!receiver.writableEnded && !receiver.destroyed) receiver.end();
  }

  #report(error: Error): void {
    if ((this.#flags & ERROR_REPORTED) !== 0) return;
    this.#flags |= ERROR_REPORTED;
    this.#sink?._error(error);
  }

  #emitClose(): void {
    if (this.readyState === ReadyState.CLOSED) return;
    this._extensions["permessage-deflate"]?.cleanup();
    this._receiver.removeAllListeners();
    // A late error of a receiver nobody listens to any more must not become an uncaught exception.
    this._receiver.on("error", ignore);
    this.readyState = ReadyState.CLOSED;
    this.#sink?._closedBySocket(this.#closeCode, this.#closeMessage);
  }

  /** @internal receiver events */
  _onConclude(code: number, reason: Buffer): void {
    this.#flags |= CLOSE_RECEIVED;
    this.#closeCode = code;
    // Copied into a buffer of its own: a view would keep the socket's read buffer alive, and a pooled copy
    // (Buffer.from) Node's whole 8 KiB pool slab.
    if (reason.length === 0) this.#closeMessage = EMPTY;
    else {
      const copy = Buffer.allocUnsafeSlow(reason.length);
      copy.set(reason);
      this.#closeMessage = copy;
    }
    if ((this.#flags & DETACHED) !== 0) return;
    // Read on to the end of the stream (the peer's FIN) without parsing: nothing may follow a close frame.
    this._socket.removeListener("data", socketOnData);
    process.nextTick(resumeStream, this._socket);
    if (code === 1005) this.close();
    else this.close(code, reason);
  }

  /** @internal */
  _onReceiverError(error: Error): void {
    this.#flags |= RECEIVER_FAILED;
    if ((this.#flags & DETACHED) === 0) {
      this._socket.removeListener("data", socketOnData);
      process.nextTick(resumeStream, this._socket);
      this.close(closeCodeOf(error));
    }
    this.#report(error);
  }

  /** @internal */
  _onReceiverDrain(): void {
    if ((this.#flags & PAUSED) === 0) this._socket.resume();
  }

  /** @internal */
  _onMessage(data: Buffer, isBinary: boolean): void {
    this.#sink?._received(data, isBinary);
  }

  /** @internal answers a ping; a peer whose pongs pile up unwritten is cut. */
  _onPing(data: Buffer): void {
    if (this.readyState !== ReadyState.OPEN) return;
    if (this.#pendingPongs >= this.#options.maxPendingPongs) {
      this.terminate();
      return;
    }
    this.#pendingPongs++;
    this._sender.pong(data, false, () => this.#pendingPongs--);
  }

  /** @internal */
  _onPong(data: Buffer): void {
    this.#sink?._pong(data);
  }

  /** @internal the sender failed (a compression error): close, report. */
  _onSenderError(error: Error): void {
    if (this.readyState === ReadyState.CLOSED) return;
    if (this.readyState === ReadyState.OPEN) {
      this.readyState = ReadyState.CLOSING;
      this.#startCloseTimer();
    }
    // end(), not destroy(): the peer may still read what was queued before.
    this.#endSocket();
    this.#report(error);
  }

  /** @internal socket events */
  _onSocketEnd(): void {
    this.readyState = ReadyState.CLOSING;
    this.#endReceiver();
    this.#endSocket();
  }

  /** @internal */
  _onSocketClose(): void {
    const socket = this._socket;
    socket.removeListener("close", socketOnClose);
    socket.removeListener("data", socketOnData);
    socket.removeListener("end", socketOnEnd);
    if (this.readyState !== ReadyState.CLOSED) this.readyState = ReadyState.CLOSING;
    const receiver = this._receiver;
    // Bytes still buffered in a paused socket (the close frame among them) go to the receiver first.
    if (!socket.readableEnded && (this.#flags & (CLOSE_RECEIVED | RECEIVER_FAILED)) === 0 && socket.readableLength !== 0) {
      const chunk = socket.read(socket.readableLength) as Buffer | null;
      if (chunk !== null) receiver.write(chunk);
    }
    this.#endReceiver();
    this.#flags |= DETACHED;
    if (this.#closeTimer !== null) {
      clearTimeout(this.#closeTimer);
      this.#closeTimer = null;
    }
    if (receiver.writableFinished || (this.#flags & RECEIVER_FAILED) !== 0) this.#emitClose();
    else {
      receiver.on("error", receiverOnFinish);
      receiver.on("finish", receiverOnFinish);
    }
  }

  /** @internal */
  _onReceiverFinish(): void {
    this.#emitClose();
  }
}

function ignore(): void {}

function destroySocket(socket: Socket): void {
  socket.destroy();
}

function resumeStream(stream: Duplex): void {
  stream.resume();
}

function receiverOnConclude(this: Owned<ReceiverLike>, code: number, reason: Buffer): void {
  this[kEngine]._onConclude(code, reason);
}

function receiverOnDrain(this: Owned<ReceiverLike>): void {
  this[kEngine]._onReceiverDrain();
}

function receiverOnError(this: Owned<ReceiverLike>, error: Error): void {
  this[kEngine]._onReceiverError(error);
}

function receiverOnMessage(this: Owned<ReceiverLike>, data: Buffer, isBinary: boolean): void {
  this[kEngine]._onMessage(data, isBinary);
}

function receiverOnPing(this: Owned<ReceiverLike>, data: Buffer): void {
  this[kEngine]._onPing(data);
}

function receiverOnPong(this: Owned<ReceiverLike>, data: Buffer): void {
  this[kEngine]._onPong(data);
}

function receiverOnFinish(this: Owned<ReceiverLike>): void {
  this[kEngine]._onReceiverFinish();
}

function senderOnError(this: Owned<SenderLike>, error: Error): void {
  this[kEngine]._onSenderError(error);
}

function socketOnData(this: Owned<Duplex>, chunk: Buffer): void {
  if (!this[kEngine]._receiver.write(chunk)) this.pause();
}

function socketOnEnd(this: Owned<Duplex>): void {
  this[kEngine]._onSocketEnd();
}

function socketOnClose(this: Owned<Duplex>): void {
  this[kEngine]._onSocketClose();
}

function socketOnError(this: Owned<Duplex>): void {
  this.removeListener("error", socketOnError);
  this.on("error", ignore);
  const engine = this[kEngine];
  if (engine.readyState !== ReadyState.CLOSED) engine.readyState = ReadyState.CLOSING;
  this.destroy();
}
