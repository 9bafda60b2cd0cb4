/**
 * A WebSocket connection: the only code that touches the `ws` instance after the 101.
 * @module
 */
import { addToSlot, handlersIn, removeFromSlot, type HandlerSlot } from "./listeners.js";
import { pathnameOf, queryOf } from "./upgrade/handshake.js";
import type { Writable } from "node:stream";
import { ErrorCode, WsmountError, peerError, type ErrorCodeValue } from "./errors.js";
import { newBucket, take, type Bucket, type ResolvedRateLimit } from "./rate-limit.js";
import type { ResolvedOptions } from "./options.js";
import type { CloseCause, Counters } from "./stats.js";
import { ReadyState, type SendData, type SendOptions, type SocketLike } from "./types.js";
import { Outbox, Written, write, writePrepared } from "./outbox.js";
import { callGuarded, type Failure } from "./guard.js";
import { adopt, socketOf } from "./ws-compat.js";
import { EventState, isEnvelopeBytes, type AnyEventHandler } from "./events.js";
import { Broadcast, type Targets } from "./broadcast.js";
import type { Publication } from "./broker.js";
import type { PreparedMessage } from "./prepared.js";
import type { Rooms } from "./rooms.js";
import {
  WireErrorCode,
  encodeAckError,
  encodeError,
  encodeEvent,
  encodeWelcome,
  peekAckId,
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

export type { SendOptions } from "./types.js";

/** The endpoint side of a connection. */
export interface ConnectionHost {
  readonly options: ResolvedOptions<any>;
  readonly counters: Counters;
  readonly rooms: Rooms<Connection<any, any, any>>;
  publish(publication: Publication): void;
  connectionClosed(connection: Connection<any>, code: number, reason: string): void;
  reportError(error: Error, connection?: Connection<any>): void;
}

/**
 * What one held message counts towards `readBufferSize` on top of its payload: about what holding it
 * costs in memory (the Buffer object ws made for it and its slots in the held list), so that many tiny
 * or empty messages stop reading as surely as a few large ones.
 */
export const HELD_MESSAGE_COST = 128;

/**
 * The state most connections never need, made on first use: one field on every connection instead of
 * nine (memory per idle connection).
 */
interface Occasional {
  errorHandlers: HandlerSlot<ErrorHandler>;
  pongHandlers: HandlerSlot<PongHandler>;
  /** Messages that arrived while the async connection handler runs, each as data then isBinary (null: not holding). */
  held: Array<Buffer | boolean> | null;
  /** Their payload bytes plus {@link HELD_MESSAGE_COST} each. */
  heldBytes: number;
  /** Reading stopped because the held messages reached `readBufferSize`. */
  paused: boolean;
  /** The streamed message in progress and what waits for it (made on the first `stream()`). */
  outbox: Outbox | null;
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
// It is an OutboxOwner, checked where it is passed as one (new Outbox): an `implements` clause would not
// hold in the published declarations, which leave out the members marked internal that it names.
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
  /** The `rateLimit` buckets, made on the first message when the option is on. */
  #bucket: Bucket | null = null;
  /** Where failures of this connection's handlers go; made on the first handler call. */
  #failed: Failure | null = null;

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
    adopt(ws);
    if (ws.attach !== undefined) {
      ws.attach(this);
    } else if (ws.on !== undefined) {
      (ws as SocketLike & { [kConnection]?: Connection<Data> })[kConnection] = this;
      ws.on("message", wsOnMessage);
      ws.on("close", wsOnClose);
      ws.on("error", wsOnError);
      ws.on("pong", wsOnPong);
    }
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

  /**
   * Bytes queued for this connection and not yet handed to the kernel: what `ws` holds, plus messages
   * waiting behind a streamed message in progress and the stream's own buffered chunks.
   */
  get bufferedAmount(): number {
    const outbox = this.#occasional?.outbox ?? null;
    return outbox === null ? this.#ws.bufferedAmount : this.#ws.bufferedAmount + outbox.held;
  }

  /**
   * Sends one message: a string as text, bytes as binary. Returns `false` when the message was not
   * sent now (connection not open, refused by the backpressure policy because it would take
   * `bufferedAmount` past `maxBufferedAmount`, or waiting behind a streamed message) or when
   * `bufferedAmount` is now above `writeBufferSize`: wait for it to fall before sending more.
   */
  send(data: SendData, options?: SendOptions): boolean {
    return this.#write(data, options) === Written.Sent && this.bufferedAmount <= this.#host.options.writeBufferSize;
  }

  #write(data: SendData, options: SendOptions | undefined): Written {
    const written = write(this.#host, this.#ws, this.#occasional?.outbox ?? null, data, options);
    if (written === Written.OverLimit) this._overLimit();
    return written;
  }

  /** Sends `value` as a JSON text message. */
  sendJSON(value: unknown): boolean {
    return this.send(JSON.stringify(value));
  }

  /**
   * Starts one message sent as a sequence of fragments (as gorilla's `NextWriter`): write chunks,
   * then `end()` to send the final fragment. Other sends and broadcasts wait until the message is
   * complete; they count in `bufferedAmount` meanwhile. The writer has stream backpressure (`write()`
   * returns false past `writeBufferSize`). A chunk that would take `bufferedAmount` past
   * `maxBufferedAmount` fails the writer with `ERR_WSMOUNT_BACKPRESSURE`: before any fragment is out,
   * the `backpressure` policy applies to the whole message; after, the connection closes with 1013.
   * Destroying the writer after a fragment is out closes the connection with 1011, as a half-sent
   * message cannot be taken back. When the connection closes first, the writer is destroyed with
   * `ERR_WSMOUNT_NOT_OPEN`. Writer errors nobody listens to go to the connection's error handlers.
   */
  stream(options: { binary?: boolean } = {}): Writable {
    const occasional = this.#occasional;
    if (occasional?.outbox?.streaming) throw new Error("wsmount: a streamed message is already in progress on this connection");
    if (this.#ws.readyState !== ReadyState.OPEN) {
      throw new WsmountError(ErrorCode.NOT_OPEN, "wsmount: cannot stream a message on a connection that is not open");
    }
    const more = this.#more();
    return (more.outbox ??= new Outbox(this.#ws, this.#host, this)).stream(options.binary ?? true);
  }

  /** Starts the closing handshake. @param code defaults to 1000 @param reason at most 123 bytes */
  close(code?: number, reason?: string): void {
    const ws = this.#ws;
    if (ws.readyState === ReadyState.CLOSED) return;
    ws.close(code ?? 1000, reason);
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
    return (this.#events ??= new EventState(this.#host.options.maxPendingAcks)).on(event, handler as AnyEventHandler);
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
    return (this.#events ??= new EventState(this.#host.options.maxPendingAcks)).call(this, event, args[0], timeout) as Promise<AckResult<Out, K>>;
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
    const written = this.#write(text, undefined);
    return written === Written.Sent || written === Written.Held;
  }

  /** @internal greets the client with its id (docs/protocol.md section 7). */
  _welcome(): void {
    this.send(encodeWelcome(this.id));
  }

  /**
   * @internal sends a message framed once for many recipients (through the outbox: the shared frame
   * goes straight to the socket when nothing is queued before it). True when it was written and
   * `bufferedAmount` is within `writeBufferSize`.
   */
  _sendPrepared(message: PreparedMessage): boolean {
    const written = writePrepared(this.#host, this.#ws, this.#occasional?.outbox ?? null, message);
    if (written === Written.OverLimit) this._overLimit();
    return written === Written.Sent && this.bufferedAmount <= this.#host.options.writeBufferSize;
  }

  /** @internal holds incoming messages until {@link _release} (async connection handler running). */
  _hold(): void {
    const occasional = this.#more();
    if (occasional.held === null) occasional.held = [];
  }

  /** @internal reading stopped because held messages reached `readBufferSize` (for tests). */
  get _readingPaused(): boolean {
    return this.#occasional?.paused === true;
  }

  /** @internal delivers held messages and resumes reading. */
  _release(): void {
    const occasional = this.#occasional;
    const held = occasional?.held ?? null;
    if (occasional === null || held === null) return;
    occasional.held = null;
    occasional.heldBytes = 0;
    for (let i = 0; i < held.length; i += 2) {
      if (this.#closed) break;
      this.#deliver(held[i] as Buffer, held[i + 1] as boolean);
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
    // The payload is the send time: only a pong that carries it back answers this ping (RFC 6455
    // section 5.5.3 allows unsolicited pongs, which must not stand in for the answer).
    if (this.#ws.readyState === ReadyState.OPEN) this.#ws.ping(pingPayload(now));
  }

  /**
   * @internal bytes handed to the kernel so far (for the write timeout). Node's `bytesWritten` also
   * counts what still waits in the socket's own buffer, so a peer that never reads would look like it
   * made progress every time the application sent more; the buffered part is taken off. Without the
   * socket (ws-compat's public path), any change of `ws.bufferedAmount` counts as progress.
   */
  _bytesFlushed(): number {
    const socket = socketOf(this.#ws);
    return socket === null ? -this.#ws.bufferedAmount : socket.bytesWritten - socket.writableLength;
  }

  /** @internal bytes handed to `ws` and not yet to the kernel (what the write timeout watches). */
  _unflushed(): number {
    return this.#ws.bufferedAmount;
  }

  /**
   * @internal closes (with `closeCode`) or terminates (`closeCode` 0) the connection for a rule wsmount
   * enforces. Only a connection still open is counted, under `cause`, with the error reported: each
   * close has exactly one cause, the rule that started it. A connection already closing (for any
   * reason: a rule, the application, the peer, shutdown) can still be terminated, since a peer that
   * reads nothing never receives the close frame queued behind its unread data; that is not counted.
   */
  _expire(cause: CloseCause, code: ErrorCodeValue, reason: string, closeCode: number): void {
    const ws = this.#ws;
    if (ws.readyState === ReadyState.CLOSED || this.#occasional?.terminated === true) return;
    if (ws.readyState === ReadyState.OPEN) {
      const occasional = this.#more();
      occasional.closeReason = reason;
      this.#host.counters.closedBy[cause]++;
      this._error(new WsmountError(code, `wsmount: ${reason}`));
    } else if (closeCode !== 0) {
      return;
    }
    if (closeCode === 0) {
      this.#more().terminated = true;
      ws.terminate();
    } else {
      ws.close(closeCode, cause === "backpressure" ? "backpressure limit exceeded" : reason);
    }
  }

  /** @internal closes with 1013 to bring the process's outgoing buffers back under the memory budget. */
  _shedForMemory(): void {
    this._expire("memoryBudget", ErrorCode.MEMORY_BUDGET, "server memory budget exceeded", 1013);
  }

  /** @internal over `maxBufferedAmount`: `"drop"` counts the message, `"close"` closes with 1013. */
  _overLimit(): void {
    if (this.#host.options.backpressure === "drop") {
      this.#host.counters.messagesDropped++;
      return;
    }
    this._closeOverLimit();
  }

  /** @internal over `maxBufferedAmount` with nothing to drop: closes with 1013 (RFC 6455 section 7.4.1 registry: "Try Again Later"). */
  _closeOverLimit(): void {
    this._expire("backpressure", ErrorCode.BACKPRESSURE, "slow consumer: backpressure limit exceeded", 1013);
  }

  /** @internal a message from `ws`. */
  _received(data: Buffer, isBinary: boolean): void {
    this._active = true;
    this.#host.counters.messagesIn++;
    const limit = this.#host.options.rateLimit;
    if (limit !== false) {
      const now = Date.now();
      const bucket = (this.#bucket ??= newBucket(limit, now));
      if (!take(limit, bucket, data.length, now)) {
        this.#rateLimited(limit, bucket, data, isBinary, now);
        return;
      }
    }
    const occasional = this.#occasional;
    if (occasional === null || occasional.held === null) {
      this.#deliver(data, isBinary);
      return;
    }
    occasional.held.push(data, isBinary);
    occasional.heldBytes += data.length + HELD_MESSAGE_COST;
    if (!occasional.paused && occasional.heldBytes >= this.#host.options.readBufferSize) {
      // Stop reading: TCP flow control keeps the rest at the client until the handler is done.
      occasional.paused = true;
      this.#ws.pause();
    }
  }

  /**
   * A message over the `rateLimit`: `"close"` closes with 1008; `"drop"` drops it, answers a call with
   * `x`, and sends an events client one `!` notice per interval (a raw client gets nothing it did not
   * ask for); the error is reported once per interval.
   */
  #rateLimited(limit: ResolvedRateLimit, bucket: Bucket, data: Buffer, isBinary: boolean, now: number): void {
    this.#host.counters.messagesRateLimited++;
    if (limit.policy === "close") {
      this._expire("rateLimit", ErrorCode.RATE_LIMITED, "rate limit exceeded", 1008);
      return;
    }
    const envelope = !isBinary && isEnvelopeBytes(data);
    const ackId = envelope ? peekAckId(data.toString("utf8", 0, Math.min(data.length, 256))) : undefined;
    if (ackId !== undefined) this._sendText(encodeAckError(ackId, { message: "rate limit exceeded", code: WireErrorCode.rateLimited }));
    if (now - bucket.noticeAt < limit.interval) return;
    bucket.noticeAt = now;
    if (envelope && ackId === undefined) this._sendText(encodeError(WireErrorCode.rateLimited, "rate limit exceeded: messages dropped"));
    this._error(peerError(ErrorCode.RATE_LIMITED, `wsmount: connection ${this.id} is over its rate limit; messages dropped`));
  }

  /** @internal `ws` closed. */
  _closedBySocket(code: number, reason: Buffer): void {
    if (this.#closed) return;
    this.#closed = true;
    const occasional = this.#occasional;
    if (occasional !== null) {
      occasional.held = null;
      occasional.outbox?.closed();
    }
    this.#events?.closed();
    const text = occasional?.closeReason ?? reason.toString();
    const socket = socketOf(this.#ws);
    if (socket !== null) {
      this.#host.counters.closedBytesIn += socket.bytesRead;
      this.#host.counters.closedBytesOut += socket.bytesWritten;
    }
    if (this.#closeHandlers !== null) {
      const failed = this.#failure();
      for (const handler of handlersIn(this.#closeHandlers)) callGuarded(failed, handler, code, text);
    }
    this.#host.connectionClosed(this, code, text);
    // Close handlers still see the rooms (to tell them who left); then the connection leaves them all.
    this.#host.rooms.leaveAll(this);
  }

  /** @internal bytes read and written so far. */
  _socketBytes(): [number, number] {
    const socket = socketOf(this.#ws);
    return socket === null ? [0, 0] : [socket.bytesRead, socket.bytesWritten];
  }

  /** @internal an error of this connection: its handlers, then the endpoint's. */
  _error(error: Error): void {
    const handlers = this.#occasional?.errorHandlers ?? null;
    if (handlers !== null) {
      const failed = this.#failure();
      for (const handler of handlersIn(handlers)) callGuarded(failed, handler, error);
    }
    this.#host.reportError(error, this);
  }

  /** @internal a pong arrived. */
  _pong(data: Buffer): void {
    if (this._pingSentAt !== 0 && answersPing(data, this._pingSentAt)) this._pingSentAt = 0;
    const handlers = this.#occasional?.pongHandlers ?? null;
    if (handlers === null) return;
    const failed = this.#failure();
    for (const handler of handlersIn(handlers)) callGuarded(failed, handler, data);
  }

  #more(): Occasional {
    return (this.#occasional ??= {
      errorHandlers: null,
      pongHandlers: null,
      held: null,
      heldBytes: 0,
      paused: false,
      outbox: null,
      closeReason: null,
      terminated: false,
    });
  }

  #deliver(data: Buffer, isBinary: boolean): void {
    if (!isBinary && isEnvelopeBytes(data)) {
      (this.#events ??= new EventState(this.#host.options.maxPendingAcks)).receive(this, data.toString());
      return;
    }
    const handlers = this.#messageHandlers;
    if (handlers === null) return;
    const value = isBinary ? data : data.toString();
    const failed = this.#failure();
    if (!Array.isArray(handlers)) callGuarded(failed, handlers, value, isBinary);
    else for (const handler of handlers.slice()) callGuarded(failed, handler, value, isBinary);
  }

  /** The failure sink of this connection's handlers (one function per connection, made on first use). */
  #failure(): Failure {
    return (this.#failed ??= (error: unknown) => this.#handlerFailed(error));
  }

  #handlerFailed(error: unknown): void {
    this.#host.reportError(
      new WsmountError(ErrorCode.HANDLER_FAILED, `wsmount: a handler of connection ${this.id} failed: ${messageOf(error)}`, { cause: error }),
      this,
    );
  }

}

const EMPTY_ROOMS: ReadonlySet<string> = new Set();


function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

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

function pingPayload(sentAt: number): Buffer {
  const payload = Buffer.allocUnsafe(8);
  payload.writeDoubleBE(sentAt, 0);
  return payload;
}

function answersPing(data: Buffer, sentAt: number): boolean {
  return data.length === 8 && data.readDoubleBE(0) === sentAt;
}

function wsOnPong(this: Owned, data: Buffer): void {
  this[kConnection]._pong(data);
}
