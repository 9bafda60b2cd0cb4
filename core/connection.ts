/**
 * A WebSocket connection: the only code that touches the `ws` instance after the 101.
 * @module
 */
import { addToSlot, handlersIn, removeFromSlot, type HandlerSlot } from "./listeners.js";
import { pathnameOf, queryOf } from "./upgrade/handshake.js";
import type { Writable } from "node:stream";
import { ErrorCode, WsmountError, type ErrorCodeValue } from "./errors.js";
import type { ResolvedOptions } from "./options.js";
import type { Counters } from "./stats.js";
import { ReadyState, type SendData, type SocketLike } from "./types.js";
import { MessageWriter } from "./message-writer.js";
import { EventState, isEnvelopeBytes, type AnyEventHandler } from "./events.js";
import { Broadcast, type Targets } from "./broadcast.js";
import type { Publication } from "./broker.js";
import type { PreparedMessage } from "./prepared.js";
import { corkForThisPass } from "./cork.js";
import type { Rooms } from "./rooms.js";
import {
  encodeEvent,
  encodeWelcome,
  type AckArgs,
  type AckResult,
  type DefaultEventMap,
  type EventArgs,
  type EventHandler,
  type EventMap,
  type EventNames,
} from "./protocol/index.js";

const kConnection = Symbol("wsmount.connection");

/** What a connection knows of the request that opened it. */
export interface RequestInfo {
  /** The request URL (path and query). */
  readonly url: string;
  /** The path without the query. */
  readonly path: string;
  /** The query, first value of each key. */
  readonly query: Readonly<Record<string, string>>;
  /** Route parameters from the framework's router. */
  readonly params: Readonly<Record<string, string>>;
  /** The request headers (lower-case names), without those only the handshake uses: `connection`, `upgrade`, `sec-websocket-key`, `sec-websocket-version`, `sec-websocket-extensions` (see `protocol` and `extensions` of the connection). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The peer's IP address. */
  readonly remoteAddress: string | undefined;
}

/** The request info of a connection; `path` and `query` are worked out on first use. */
export class ConnectionRequest implements RequestInfo {
  readonly url: string;
  readonly params: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly remoteAddress: string | undefined;
  #query: Readonly<Record<string, string>> | null = null;

  /** @internal */
  constructor(url: string, params: Readonly<Record<string, string>>, headers: RequestInfo["headers"], remoteAddress: string | undefined) {
    this.url = url;
    this.params = params;
    this.headers = headers;
    this.remoteAddress = remoteAddress;
  }

  get path(): string {
    return pathnameOf(this.url);
  }

  get query(): Readonly<Record<string, string>> {
    return (this.#query ??= queryOf(this.url));
  }
}

/** A received message: text as a string, binary as a Buffer. */
export type MessageHandler = (data: string | Buffer, isBinary: boolean) => unknown;
/** Called once when the connection has closed. */
export type CloseHandler = (code: number, reason: string) => unknown;
/** Called with errors of this connection (protocol violations, timeouts, handler failures). */
export type ErrorHandler = (error: Error) => unknown;
/** Called with a pong's payload. */
export type PongHandler = (data: Buffer) => unknown;

/** Options of a single `send`. */
export interface SendOptions {
  /** Send as a binary message; by default strings are text and bytes are binary. */
  binary?: boolean;
  /** Compress when permessage-deflate was negotiated and the message is over the threshold. @defaultValue true */
  compress?: boolean;
}

/** The endpoint side of a connection. */
export interface ConnectionHost {
  readonly options: ResolvedOptions<any>;
  readonly counters: Counters;
  readonly rooms: Rooms<Connection<any, any, any>>;
  publish(publication: Publication): void;
  connectionClosed(connection: Connection<any>, code: number, reason: string): void;
  reportError(error: Error, connection?: Connection<any>): void;
}

/** A message held while the connection handler is still running. */
type Held = { data: Buffer; isBinary: boolean };

/**
 * The state most connections never need, made on first use: one field on every connection instead of
 * nine (memory per idle connection).
 */
interface Occasional {
  errorHandlers: HandlerSlot<ErrorHandler>;
  pongHandlers: HandlerSlot<PongHandler>;
  /** Messages that arrived while the async connection handler runs (null: not holding). */
  held: Held[] | null;
  heldBytes: number;
  /** Reading stopped because the held messages reached `readBufferSize`. */
  paused: boolean;
  /** The streamed message in progress, and the sends that wait for it. */
  writer: MessageWriter | null;
  deferred: Array<[SendData, SendOptions | undefined]> | null;
  /** Why wsmount itself closed the connection (timeouts, backpressure). */
  closeReason: string | null;
  terminated: boolean;
}

/** When a connection's queued data last made progress (write timeout). */
interface Stall {
  since: number;
  bytes: number;
}

/**
 * An open (or closing) WebSocket connection. `In` types the events clients send (handled with `on`),
 * `Out` the events the server emits.
 */
export class Connection<Data = unknown, In extends EventMap = DefaultEventMap, Out extends EventMap = DefaultEventMap> {
  /** The connection's id: from `authenticate`, else `generateId`. Unique among the endpoint's open connections. */
  readonly id: string;
  /** Session data: from `authenticate`, replaced or merged by `updateSession`. */
  data: Data;
  /** The request that opened the connection. */
  readonly request: RequestInfo;

  /** @internal heartbeat bookkeeping, read and written by heartbeat.ts */
  _lastPingAt: number;
  /** @internal 0 when no ping is outstanding */
  _pingSentAt = 0;
  /** @internal set by every message, cleared by the heartbeat tick */
  _active = false;
  /** @internal */
  _idleSince: number;
  /** @internal set by the heartbeat while data is queued, null when none is */
  _stall: Stall | null = null;
  /** @internal the rooms this connection is in (reverse index of the endpoint's room index) */
  _rooms: Set<string> | null = null;

  readonly #ws: SocketLike;
  readonly #host: ConnectionHost;
  #messageHandlers: HandlerSlot<MessageHandler> = null;
  #closeHandlers: HandlerSlot<CloseHandler> = null;
  #occasional: Occasional | null = null;
  #closed = false;
  #events: EventState | null = null;

  /**
   * Connections are created by the endpoint, never by application code. (Not marked internal: a
   * constructor left out of the declarations would read as a public one without arguments.)
   */
  constructor(ws: SocketLike, host: ConnectionHost, id: string, data: Data, request: RequestInfo, now: number) {
    this.id = id;
    this.data = data;
    this.request = request;
    this.#ws = ws;
    this.#host = host;
    this._lastPingAt = now;
    this._idleSince = now;
    (ws as SocketLike & { [kConnection]?: Connection<Data> })[kConnection] = this;
    ws.on("message", wsOnMessage);
    ws.on("close", wsOnClose);
    ws.on("error", wsOnError);
    ws.on("pong", wsOnPong);
  }

  /** The negotiated subprotocol, or `""`. */
  get protocol(): string {
    return this.#ws.protocol;
  }

  /** The negotiated extensions as in the `Sec-WebSocket-Extensions` response header, or `""`. */
  get extensions(): string {
    return this.#ws.extensions;
  }

  /** `0` connecting, `1` open, `2` closing, `3` closed (as `WebSocket.readyState`). */
  get readyState(): number {
    return this.#ws.readyState;
  }

  /** Bytes queued for this connection and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  /**
   * Sends one message: a string as text, bytes as binary. Returns `false` when the message was not
   * sent (connection not open, dropped by the backpressure policy) or when `bufferedAmount` is now
   * above `writeBufferSize`: wait for it to fall before sending more.
   */
  send(data: SendData, options?: SendOptions): boolean {
    return this.#write(data, options) === Written.Sent && this.#ws.bufferedAmount <= this.#host.options.writeBufferSize;
  }

  #write(data: SendData, options: SendOptions | undefined): Written {
    const ws = this.#ws;
    if (ws.readyState !== ReadyState.OPEN) return Written.Not;
    const occasional = this.#occasional;
    if (occasional !== null && occasional.writer !== null) {
      (occasional.deferred ??= []).push([data, options]);
      return Written.Deferred;
    }
    if (ws.bufferedAmount > this.#host.options.maxBufferedAmount) {
      this.#overLimit();
      return Written.Not;
    }
    const socket = ws._socket;
    if (socket !== null) corkForThisPass(socket);
    if (options === undefined) ws.send(data);
    else ws.send(data, options);
    this.#host.counters.messagesOut++;
    return Written.Sent;
  }

  /** Sends `value` as a JSON text message. */
  sendJSON(value: unknown): boolean {
    return this.send(JSON.stringify(value));
  }

  /**
   * Starts one message sent as a sequence of fragments (as gorilla's `NextWriter`): write chunks,
   * then `end()` to send the final fragment. Other `send`s wait until the message is complete.
   * Destroying the writer before `end()` closes the connection with 1011, as a half-sent message
   * cannot be taken back.
   */
  stream(options: { binary?: boolean } = {}): Writable {
    if (this.#occasional?.writer) throw new Error("wsmount: a streamed message is already in progress on this connection");
    if (this.#ws.readyState !== ReadyState.OPEN) {
      throw new WsmountError(ErrorCode.NOT_OPEN, "wsmount: cannot stream a message on a connection that is not open");
    }
    const writer = new MessageWriter(this, options.binary ?? true, this.#host.options.writeBufferSize);
    this.#more().writer = writer;
    return writer;
  }

  /** Starts the closing handshake. @param code defaults to 1000 @param reason at most 123 bytes */
  close(code?: number, reason?: string): void {
    const ws = this.#ws;
    if (ws.readyState === ReadyState.CLOSED) return;
    ws.close(code, reason);
  }

  /** Destroys the connection at once, without a closing handshake. */
  terminate(): void {
    this.#ws.terminate();
  }

  /** Sends a ping (the heartbeat sends its own). */
  ping(data?: SendData): void {
    if (this.#ws.readyState === ReadyState.OPEN) this.#ws.ping(data);
  }

  /** Adds a handler for received messages. Returns a function that removes it. */
  onMessage(handler: MessageHandler): () => void {
    this.#messageHandlers = addToSlot(this.#messageHandlers, handler);
    return () => void (this.#messageHandlers = removeFromSlot(this.#messageHandlers, handler));
  }

  /** Adds a handler for the connection's close. */
  onClose(handler: CloseHandler): () => void {
    this.#closeHandlers = addToSlot(this.#closeHandlers, handler);
    return () => void (this.#closeHandlers = removeFromSlot(this.#closeHandlers, handler));
  }

  /** Adds a handler for the connection's errors. */
  onError(handler: ErrorHandler): () => void {
    const occasional = this.#more();
    occasional.errorHandlers = addToSlot(occasional.errorHandlers, handler);
    return () => void (occasional.errorHandlers = removeFromSlot(occasional.errorHandlers, handler));
  }

  /** Adds a handler for pongs. */
  onPong(handler: PongHandler): () => void {
    const occasional = this.#more();
    occasional.pongHandlers = addToSlot(occasional.pongHandlers, handler);
    return () => void (occasional.pongHandlers = removeFromSlot(occasional.pongHandlers, handler));
  }

  /**
   * Handles the named event `event` sent by the client. The handler gets the data; when the client
   * asked for an acknowledgement, the first handler's return value (or resolved promise) is the answer
   * and a thrown error reaches the client as an error (message and code, never the stack).
   */
  on<K extends EventNames<In>>(event: K, handler: EventHandler<In, K>): () => void {
    return (this.#events ??= new EventState()).on(event, handler as AnyEventHandler);
  }

  /** Removes a handler of `event`, or all its handlers. */
  off<K extends EventNames<In>>(event: K, handler?: EventHandler<In, K>): void {
    this.#events?.off(event, handler as AnyEventHandler | undefined);
  }

  /** Emits the named event `event` to this client. Returns what `send` returns. */
  emit<K extends EventNames<Out>>(event: K, ...args: EventArgs<Out, K>): boolean {
    return this._sendText(encodeEvent(event, args[0]));
  }

  /**
   * Emits `event` and waits for the client's answer: resolves with its result, rejects with a
   * `RemoteError` when its handler failed, or an `AckError` on timeout (`ackTimeout`, or the
   * `timeout` given after the data) or disconnection.
   */
  emitWithAck<K extends EventNames<Out>>(event: K, ...args: AckArgs<Out, K>): Promise<AckResult<Out, K>> {
    const options = (args.length > 1 ? args[args.length - 1] : undefined) as { timeout?: number } | undefined;
    const timeout = options?.timeout ?? this.#host.options.ackTimeout;
    return (this.#events ??= new EventState()).call(this, event, args[0], timeout) as Promise<AckResult<Out, K>>;
  }

  /** Joins `room`; returns false when already in it. */
  join(room: string): boolean {
    if (typeof room !== "string" || room.length === 0) throw new TypeError(`wsmount: a room name must be a non-empty string; got ${String(room)}`);
    if (this.#closed) return false;
    return this.#host.rooms.join(this, room);
  }

  /** Leaves `room`; returns false when not in it. */
  leave(room: string): boolean {
    return this.#host.rooms.leave(this, room);
  }

  /** The rooms this connection is in (a live view). */
  get rooms(): ReadonlySet<string> {
    return this._rooms ?? EMPTY_ROOMS;
  }

  /** Sends to rooms or connection ids, leaving this connection out (as socket.io's `socket.to`). */
  to(...targets: Targets): Broadcast<Out> {
    return new Broadcast<Out>((publication) => this.#host.publish(publication), [], [this.id]).to(...targets);
  }

  /** Sends to every connection of the endpoint but this one. */
  get broadcast(): Broadcast<Out> {
    return new Broadcast<Out>((publication) => this.#host.publish(publication), [], [this.id]);
  }

  /** @internal sends an encoded envelope; true when it was written or waits behind a streamed message. */
  _sendText(text: string): boolean {
    return this.#write(text, undefined) !== Written.Not;
  }

  /** @internal greets the client with its id (docs/protocol.md section 7). */
  _welcome(): void {
    this.send(encodeWelcome(this.id));
  }

  /**
   * @internal sends a message framed once for many recipients: the shared frame is written straight to
   * the socket unless `ws` still queues earlier sends (compression in progress), which must go first.
   */
  _sendPrepared(message: PreparedMessage): boolean {
    const ws = this.#ws;
    if (ws.readyState !== ReadyState.OPEN) return false;
    if (this.#occasional?.writer) return this.#write(message.original, { binary: message.binary }) === Written.Sent;
    const { maxBufferedAmount, writeBufferSize, compression } = this.#host.options;
    if (ws.bufferedAmount > maxBufferedAmount) {
      this.#overLimit();
      return false;
    }
    const sender = ws._sender;
    const socket = ws._socket;
    this.#host.counters.messagesOut++;
    if (sender === null || socket === null || sender._state !== 0 || sender._queue.length > 0) {
      ws.send(message.original, { binary: message.binary });
      return ws.bufferedAmount <= writeBufferSize;
    }
    corkForThisPass(socket);
    const deflate = ws._extensions["permessage-deflate"];
    if (deflate === undefined || compression === false || message.data.length < compression.threshold) {
      socket.write(message.plainFrame());
    } else if (deflate.params?.server_no_context_takeover === true) {
      const bits = deflate.params.server_max_window_bits;
      socket.write(message.deflatedFrame(typeof bits === "number" ? bits : 15, compression));
    } else {
      // The peer's compression context carries over between messages: only ws can compress for it.
      ws.send(message.original, { binary: message.binary });
    }
    return ws.bufferedAmount <= writeBufferSize;
  }

  /** @internal holds incoming messages until {@link _release} (async connection handler running). */
  _hold(): void {
    const occasional = this.#more();
    if (occasional.held === null) occasional.held = [];
  }

  /** @internal delivers held messages and resumes reading. */
  _release(): void {
    const occasional = this.#occasional;
    const held = occasional?.held ?? null;
    if (occasional === null || held === null) return;
    occasional.held = null;
    occasional.heldBytes = 0;
    for (const message of held) {
      if (this.#closed) break;
      this.#deliver(message.data, message.isBinary);
    }
    if (occasional.paused) {
      occasional.paused = false;
      this.#ws.resume();
    }
  }

  /** @internal sends a heartbeat ping. */
  _heartbeatPing(now: number): void {
    this._lastPingAt = now;
    this._pingSentAt = now;
    if (this.#ws.readyState === ReadyState.OPEN) this.#ws.ping();
  }

  /**
   * @internal bytes handed to the kernel so far (for the write timeout). Node's `bytesWritten` also
   * counts what still waits in the socket's own buffer, so a peer that never reads would look like it
   * made progress every time the application sent more; the buffered part is taken off.
   */
  _bytesFlushed(): number {
    const socket = this.#ws._socket;
    return socket === null ? 0 : socket.bytesWritten - socket.writableLength;
  }

  /**
   * @internal closes (1001) or terminates the connection for a reason wsmount enforces. A connection
   * that is already closing (idle timeout, backpressure) can still be terminated: a peer that reads
   * nothing never receives the close frame queued behind its unread data.
   */
  _expire(code: ErrorCodeValue, reason: string, terminate: boolean): boolean {
    if (this.#occasional?.terminated || this.#ws.readyState === ReadyState.CLOSED) return false;
    const occasional = this.#more();
    if (occasional.closeReason === null) {
      occasional.closeReason = reason;
      this._error(new WsmountError(code, `wsmount: ${reason}`));
    } else if (!terminate) {
      return false;
    }
    if (terminate) {
      occasional.terminated = true;
      this.#ws.terminate();
    } else {
      this.#ws.close(1001, reason);
    }
    return true;
  }

  /** @internal one fragment of a streamed message. */
  _sendFragment(chunk: Buffer, binary: boolean, fin: boolean, callback: (error?: Error | null) => void): void {
    if (this.#ws.readyState !== ReadyState.OPEN) {
      callback(new WsmountError(ErrorCode.NOT_OPEN, "wsmount: the connection closed during a streamed message"));
      return;
    }
    this.#ws.send(chunk, { binary, fin }, callback);
    if (fin) this.#host.counters.messagesOut++;
  }

  /** @internal the streamed message ended (or failed): flush what waited for it. */
  _streamDone(writer: MessageWriter, complete: boolean): void {
    const occasional = this.#occasional;
    if (occasional === null || occasional.writer !== writer) return;
    occasional.writer = null;
    if (!complete) {
      this.close(1011, "streamed message aborted");
      occasional.deferred = null;
      return;
    }
    const deferred = occasional.deferred;
    occasional.deferred = null;
    if (deferred !== null) for (const [data, options] of deferred) this.send(data, options);
  }

  /** @internal a message from `ws`. */
  _received(data: Buffer, isBinary: boolean): void {
    this._active = true;
    this.#host.counters.messagesIn++;
    const occasional = this.#occasional;
    if (occasional === null || occasional.held === null) {
      this.#deliver(data, isBinary);
      return;
    }
    occasional.held.push({ data, isBinary });
    occasional.heldBytes += data.length;
    if (!occasional.paused && occasional.heldBytes >= this.#host.options.readBufferSize) {
      // Stop reading: TCP flow control keeps the rest at the client until the handler is done.
      occasional.paused = true;
      this.#ws.pause();
    }
  }

  /** @internal `ws` closed. */
  _closedBySocket(code: number, reason: Buffer): void {
    if (this.#closed) return;
    this.#closed = true;
    const occasional = this.#occasional;
    if (occasional !== null) occasional.held = null;
    this.#events?.closed();
    const text = occasional?.closeReason ?? reason.toString();
    const socket = this.#ws._socket;
    if (socket !== null) {
      this.#host.counters.closedBytesIn += socket.bytesRead;
      this.#host.counters.closedBytesOut += socket.bytesWritten;
    }
    for (const handler of handlersIn(this.#closeHandlers)) this.#call(handler, code, text);
    this.#host.connectionClosed(this, code, text);
    // Close handlers still see the rooms (to tell them who left); then the connection leaves them all.
    this.#host.rooms.leaveAll(this);
  }

  /** @internal bytes read and written so far. */
  _socketBytes(): [number, number] {
    const socket = this.#ws._socket;
    return socket === null ? [0, 0] : [socket.bytesRead, socket.bytesWritten];
  }

  /** @internal an error of this connection: its handlers, then the endpoint's. */
  _error(error: Error): void {
    for (const handler of handlersIn(this.#occasional?.errorHandlers ?? null)) this.#call(handler, error);
    this.#host.reportError(error, this);
  }

  /** @internal a pong arrived. */
  _pong(data: Buffer): void {
    this._pingSentAt = 0;
    for (const handler of handlersIn(this.#occasional?.pongHandlers ?? null)) this.#call(handler, data);
  }

  #more(): Occasional {
    return (this.#occasional ??= {
      errorHandlers: null,
      pongHandlers: null,
      held: null,
      heldBytes: 0,
      paused: false,
      writer: null,
      deferred: null,
      closeReason: null,
      terminated: false,
    });
  }

  #deliver(data: Buffer, isBinary: boolean): void {
    if (!isBinary && isEnvelopeBytes(data)) {
      (this.#events ??= new EventState()).receive(this, data.toString());
      return;
    }
    const handlers = this.#messageHandlers;
    if (handlers === null) return;
    const value = isBinary ? data : data.toString();
    if (!Array.isArray(handlers)) this.#callMessageHandler(handlers, value, isBinary);
    else for (const handler of handlers.slice()) this.#callMessageHandler(handler, value, isBinary);
  }

  // The per-message twin of #call, without its rest-argument array.
  #callMessageHandler(handler: MessageHandler, value: string | Buffer, isBinary: boolean): void {
    try {
      const result = handler(value, isBinary);
      if (result !== undefined && result !== null && typeof (result as Promise<unknown>).then === "function") {
        (result as Promise<unknown>).then(undefined, (error: unknown) => this.#handlerFailed(error));
      }
    } catch (error) {
      this.#handlerFailed(error);
    }
  }

  #call<A extends unknown[]>(handler: (...args: A) => unknown, ...args: A): void {
    try {
      const result = handler(...args);
      if (result !== undefined && result !== null && typeof (result as Promise<unknown>).then === "function") {
        (result as Promise<unknown>).then(undefined, (error: unknown) => this.#handlerFailed(error));
      }
    } catch (error) {
      this.#handlerFailed(error);
    }
  }

  #handlerFailed(error: unknown): void {
    this.#host.reportError(
      new WsmountError(ErrorCode.HANDLER_FAILED, `wsmount: a handler of connection ${this.id} failed: ${messageOf(error)}`, { cause: error }),
      this,
    );
  }

  #overLimit(): void {
    const counters = this.#host.counters;
    if (this.#host.options.backpressure === "drop") {
      counters.messagesDropped++;
      return;
    }
    const occasional = this.#more();
    if (occasional.closeReason === null) {
      counters.closedBy.backpressure++;
      occasional.closeReason = "slow consumer: backpressure limit exceeded";
      this._error(new WsmountError(ErrorCode.BACKPRESSURE, `wsmount: ${occasional.closeReason}`));
      // RFC 6455 section 7.4.1 (IANA registry): 1013 "Try Again Later".
      this.#ws.close(1013, "backpressure limit exceeded");
    }
  }

}

const EMPTY_ROOMS: ReadonlySet<string> = new Set();


function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** What became of a message handed to the socket. */
const Written = {
  Sent: 0,
  /** Held until the streamed message in progress ends. */
  Deferred: 1,
  /** Not sent: the connection is not open, or the backpressure policy refused it. */
  Not: 2,
} as const;
type Written = (typeof Written)[keyof typeof Written];

type Owned = SocketLike & { [kConnection]: Connection<unknown> };

function wsOnMessage(this: Owned, data: Buffer, isBinary: boolean): void {
  this[kConnection]._received(data, isBinary);
}

function wsOnClose(this: Owned, code: number, reason: Buffer): void {
  this[kConnection]._closedBySocket(code, reason);
}

function wsOnError(this: Owned, error: Error): void {
  this[kConnection]._error(error);
}

function wsOnPong(this: Owned, data: Buffer): void {
  this[kConnection]._pong(data);
}
