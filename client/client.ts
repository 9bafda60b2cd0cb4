/**
 * The events client: one logical connection over successive WebSockets, with typed events, acknowledgements,
 * an offline queue and automatic reconnection.
 * @module
 */
import { AckErrorCode, MAX_ACK_ID, WireErrorCode } from "../core/protocol/constants.js";
import { decodeWhole } from "../core/protocol/decode.js";
import { encodeAck, encodeAckError, encodeEvent, toErrorPayload } from "../core/protocol/encode.js";
import { AckError, ProtocolError, RemoteError } from "../core/protocol/errors.js";
import { callAsync, callGuarded, whenSettled } from "../core/guard.js";
import type {
  AckArgs,
  AckOptions,
  AckResult,
  DefaultEventMap,
  EventArgs,
  EventHandler,
  EventMap,
  EventNames,
} from "../core/protocol/types.js";
import { backoffDelay } from "./backoff.js";
import { type ClientOptions, resolveClientOptions, type ResolvedClientOptions } from "./options.js";
import type { WebSocketLike } from "./websocket-like.js";

/**
 * Where the client is:
 * - `connecting`: a WebSocket is being opened (or, with `waitForWelcome`, open and waiting for the welcome);
 * - `open`: connected; events are sent at once;
 * - `reconnecting`: waiting for the backoff delay before the next attempt;
 * - `closed`: final, after `close()` or when reconnection gave up.
 */
export type ClientState = "connecting" | "open" | "reconnecting" | "closed";

/** The attempt number (1 for the first retry) and its delay in milliseconds, given with `reconnecting`. */
export interface RetryInfo {
  attempt: number;
  delay: number;
}

type Listener = (...args: any[]) => unknown;

interface PendingAck {
  event: string;
  text: string;
  /** Whether the call left the queue for the socket (only sent calls are lost with their connection). */
  sent: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  resolve: (value: any) => void;
  reject: (error: Error) => void;
}

const OPEN = 1;

/** Adds a listener to a copy-on-write list, so listeners may come and go while a list is being called. */
function addListener(map: Map<string, Listener[]>, key: string, listener: Listener): () => void {
  map.set(key, [...(map.get(key) ?? []), listener]);
  return () => {
    const list = map.get(key)?.slice() ?? [];
    const index = list.indexOf(listener);
    if (index >= 0) list.splice(index, 1);
    map.set(key, list);
  };
}

/**
 * The events client. `In` describes the events the server sends (handled with `on`), `Out` the events the client
 * sends (with `emit` / `emitWithAck`); both are {@link EventMap}s, usually shared with the server's code.
 * Create one with {@link connect}.
 */
export class WsmountClient<In extends EventMap = DefaultEventMap, Out extends EventMap = DefaultEventMap> {
  readonly #url: string;
  readonly #options: ResolvedClientOptions;
  #ws: WebSocketLike | undefined;
  #state: ClientState = "connecting";
  #connected = false;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #id: string | undefined;
  #nextAckId = 0;
  readonly #pending = new Map<number, PendingAck>();
  #queue: string[] = [];
  readonly #handlers = new Map<string, Listener[]>();
  readonly #listeners = new Map<string, Listener[]>();

  /** Use {@link connect}. @throws TypeError for invalid options, or what the WebSocket constructor throws. */
  constructor(url: string | URL, options?: ClientOptions) {
    if (typeof url !== "string" && !(url instanceof URL)) throw new TypeError("wsmount client: url must be a string or a URL");
    this.#url = String(url);
    this.#options = resolveClientOptions(options);
    this.#open(true);
  }

  /** The connection state; watch it with {@link onStateChange}. */
  get state(): ClientState {
    return this.#state;
  }

  /** This connection's id from the server's welcome message; `undefined` before it arrives and while disconnected. */
  get id(): string | undefined {
    return this.#id;
  }

  /** The subprotocol the server chose for the current connection, or `""`. */
  get protocol(): string {
    return this.#ws?.protocol ?? "";
  }

  /** Calls `listener` each time the connection opens (again after every reconnect). Returns a remover. */
  onConnect(listener: () => void): () => void {
    return addListener(this.#listeners, "connect", listener);
  }

  /** Calls `listener` when an open connection closes, with the close code and reason. Returns a remover. */
  onDisconnect(listener: (code: number, reason: string) => void): () => void {
    return addListener(this.#listeners, "disconnect", listener);
  }

  /** Calls `listener` on every state change; `retry` is given with `reconnecting`. Returns a remover. */
  onStateChange(listener: (state: ClientState, retry: RetryInfo | undefined) => void): () => void {
    return addListener(this.#listeners, "state", listener);
  }

  /** Calls `listener` with each raw message: text that is not an envelope, and binary data. Returns a remover. */
  onMessage(listener: (data: string | ArrayBuffer) => void): () => void {
    return addListener(this.#listeners, "message", listener);
  }

  /**
   * Calls `listener` with errors that have no caller to go to: a {@link ProtocolError} (the server refused one of
   * our messages with an error notice, or sent an invalid envelope), an error thrown or a promise rejected by any
   * listener of this client (event handlers, acknowledged ones included when they are not the one answering,
   * `onConnect`, `onDisconnect`, `onStateChange`, `onMessage`), or a WebSocket constructor that threw on a
   * reconnection attempt. Without any error listener, protocol errors are dropped and listener errors are
   * rethrown asynchronously (like an exception in a DOM event listener). An error listener that throws or rejects
   * is ignored: its failure goes nowhere, so it cannot loop. Returns a remover.
   */
  onError(listener: (error: unknown) => void): () => void {
    return addListener(this.#listeners, "error", listener);
  }

  /**
   * Handles event `event` from the server. For a call, the first handler's return value (or resolved promise) is
   * the acknowledgement; if it throws (or rejects), the server gets the error's message and string `code`.
   * Other handlers of the same event run too; their results are ignored. Returns a remover.
   */
  on<K extends EventNames<In>>(event: K, handler: EventHandler<In, K>): () => void {
    return addListener(this.#handlers, event, handler as Listener);
  }

  /**
   * Sends an event. While not connected it is queued (see `queueSize`) and sent on connect.
   * @returns `false` if it was dropped: the queue is full or disabled, or the client is closed.
   * @throws TypeError for an invalid event name or data `JSON.stringify` refuses.
   */
  emit<K extends EventNames<Out>>(event: K, ...args: EventArgs<Out, K>): boolean {
    return this.#send(encodeEvent(event, args[0]));
  }

  /**
   * Sends an event and resolves with the server's acknowledgement. Rejects with a {@link RemoteError} when the
   * server's handler failed (or no handler exists: `ERR_WSMOUNT_UNKNOWN_EVENT`), and with an {@link AckError}
   * when no answer can come: `ERR_WSMOUNT_ACK_TIMEOUT` after `options.timeout` (default `ackTimeout`),
   * `ERR_WSMOUNT_DISCONNECTED` if the connection closed after the event was sent (the server may or may not have
   * handled it), `ERR_WSMOUNT_CLOSED` on `close()`, `ERR_WSMOUNT_QUEUE_FULL` if it could not be queued,
   * `ERR_WSMOUNT_TOO_MANY_PENDING_ACKS` if `maxPendingAcks` calls already wait (nothing is sent).
   * A call made while disconnected is queued like `emit`; its timeout runs from this call.
   * @throws TypeError (synchronously) for an invalid event name, data or timeout.
   */
  emitWithAck<K extends EventNames<Out>>(event: K, ...args: AckArgs<Out, K>): Promise<AckResult<Out, K>> {
    const options = args[1] as AckOptions | undefined;
    const timeout = options?.timeout ?? this.#options.ackTimeout;
    if (typeof timeout !== "number" || !(timeout >= 0 && timeout <= 2_147_483_647)) {
      throw new TypeError("wsmount client: options.timeout must be a number from 0 to 2147483647");
    }
    let ackId = this.#nextAckId;
    while (this.#pending.has(ackId)) ackId = ackId === MAX_ACK_ID ? 0 : ackId + 1;
    this.#nextAckId = ackId === MAX_ACK_ID ? 0 : ackId + 1;
    const text = encodeEvent(event, args[0], ackId);
    return new Promise((resolve, reject) => {
      if (this.#pending.size >= this.#options.maxPendingAcks) {
        reject(new AckError(event, AckErrorCode.tooManyPending, `Cannot send "${event}": ${this.#pending.size} calls wait for answers`));
        return;
      }
      const sent = this.#isOpen();
      if (!sent && (this.#state === "closed" || this.#queue.length >= this.#options.queueSize)) {
        const code = this.#state === "closed" ? AckErrorCode.closed : AckErrorCode.queueFull;
        reject(new AckError(event, code, `Cannot send "${event}": ${code === AckErrorCode.closed ? "client closed" : "queue full"}`));
        return;
      }
      const pending: PendingAck = { event, text, sent, timer: undefined, resolve, reject };
      if (timeout > 0) {
        pending.timer = setTimeout(() => {
          this.#pending.delete(ackId);
          if (!pending.sent) this.#queue = this.#queue.filter((queued) => queued !== text);
          reject(new AckError(event, AckErrorCode.timeout, `No acknowledgement for "${event}" within ${timeout} ms`));
        }, timeout);
      }
      this.#pending.set(ackId, pending);
      this.#send(text);
    });
  }

  /**
   * Sends a raw message (not an envelope) on the open connection; raw messages are never queued. Text starting
   * with `wsm` and a digit is read by the server as an envelope: send such text as binary.
   * @returns `false` when not connected or the connection is closing (nothing was sent).
   */
  send(data: string | ArrayBuffer | ArrayBufferView | Blob): boolean {
    if (!this.#isOpen()) return false;
    this.#ws!.send(data);
    return true;
  }

  /**
   * Closes the connection for good: no more reconnection, queued events are dropped, and every pending
   * `emitWithAck` rejects with `ERR_WSMOUNT_CLOSED`. `onDisconnect` still runs when an open connection ends.
   */
  close(code = 1000, reason = ""): void {
    if (this.#state === "closed") return;
    this.#shutdown("client closed");
    this.#ws?.close(code, reason);
  }

  #setState(state: ClientState, retry?: RetryInfo): void {
    this.#state = state;
    this.#call("state", state, retry);
  }

  /** Whether messages can go out now: connected, and the socket not already closing. */
  #isOpen(): boolean {
    return this.#state === "open" && this.#ws?.readyState === OPEN;
  }

  #call(name: string, a?: unknown, b?: unknown): void {
    for (const listener of this.#listeners.get(name) ?? []) callGuarded(this.#report, listener, a, b);
  }

  /** Where every failure of a listener goes: the error listeners, each guarded (a failing one is ignored). */
  readonly #report = (error: unknown): void => {
    const listeners = this.#listeners.get("error");
    if (listeners?.length) for (const listener of listeners) callGuarded(ignore, listener, error);
    else if (!(error instanceof ProtocolError)) {
      setTimeout(() => {
        throw error;
      });
    }
  };

  #send(text: string): boolean {
    // An event emitted while the socket is closing is queued for the next connection instead of being lost.
    if (this.#isOpen()) {
      this.#ws!.send(text);
      return true;
    }
    if (this.#state === "closed" || this.#queue.length >= this.#options.queueSize) return false;
    this.#queue.push(text);
    return true;
  }

  #open(first = false): void {
    if (!first) this.#setState("connecting");
    const { WebSocket, protocols } = this.#options;
    let ws: WebSocketLike;
    try {
      ws = new WebSocket(this.#url, protocols);
    } catch (error) {
      if (first) throw error;
      this.#report(error);
      this.#retry();
      return;
    }
    this.#ws = ws;
    ws.binaryType = "arraybuffer";
    ws.onopen = () => {
      if (!this.#options.waitForWelcome) this.#ready(ws);
    };
    ws.onmessage = (event: { data: string | ArrayBuffer }) => this.#receive(ws, event.data);
    ws.onclose = (event: { code: number; reason: string }) => this.#closed(ws, event.code, event.reason);
    // The close event follows every error event and carries what we need; `ws` needs a listener to not throw.
    ws.onerror = () => {};
  }

  #ready(ws: WebSocketLike): void {
    if (this.#state !== "connecting" || ws !== this.#ws) return;
    this.#attempt = 0;
    this.#connected = true;
    this.#state = "open";
    // Queued events go out before any listener runs, so they keep the order they were emitted in.
    const queue = this.#queue;
    this.#queue = [];
    for (const pending of this.#pending.values()) pending.sent = true;
    for (const text of queue) ws.send(text);
    this.#setState("open");
    this.#call("connect");
  }

  #closed(ws: WebSocketLike, code: number, reason: string): void {
    if (ws !== this.#ws) return;
    this.#ws = undefined;
    this.#id = undefined;
    const wasConnected = this.#connected;
    this.#connected = false;
    // Ack ids belong to one connection: answers to calls sent on it can no longer come.
    for (const [ackId, pending] of this.#pending) {
      if (pending.sent) this.#fail(ackId, pending, AckErrorCode.disconnected, "connection closed");
    }
    if (wasConnected) this.#call("disconnect", code, reason);
    if (this.#state !== "closed") this.#retry();
  }

  #retry(): void {
    const reconnect = this.#options.reconnect;
    if (!reconnect || this.#attempt >= reconnect.maxAttempts) {
      this.#shutdown("gave up reconnecting");
      return;
    }
    const attempt = ++this.#attempt;
    const delay = backoffDelay(attempt, reconnect, Math.random);
    this.#timer = setTimeout(() => this.#open(), delay);
    this.#setState("reconnecting", { attempt, delay });
  }

  #shutdown(why: string): void {
    clearTimeout(this.#timer);
    this.#queue = [];
    for (const [ackId, pending] of this.#pending) this.#fail(ackId, pending, AckErrorCode.closed, why);
    this.#setState("closed");
  }

  #fail(ackId: number, pending: PendingAck, code: string, why: string): void {
    clearTimeout(pending.timer);
    this.#pending.delete(ackId);
    pending.reject(new AckError(pending.event, code, `No acknowledgement for "${pending.event}": ${why}`));
  }

  #settle(ackId: number): PendingAck | undefined {
    const pending = this.#pending.get(ackId);
    // An answer to a call that is not pending (timed out, or never made) is ignored.
    if (!pending?.sent) return undefined;
    clearTimeout(pending.timer);
    this.#pending.delete(ackId);
    return pending;
  }

  #receive(ws: WebSocketLike, data: string | ArrayBuffer): void {
    const message = decodeWhole(data);
    switch (message.kind) {
      case "raw":
        this.#call("message", data);
        return;
      case "event":
        this.#dispatch(ws, message.name, message.data, message.ackId);
        return;
      case "ack":
        this.#settle(message.ackId)?.resolve(message.result);
        return;
      case "ackError": {
        const pending = this.#settle(message.ackId);
        pending?.reject(new RemoteError(pending.event, message.error.message, message.error.code));
        return;
      }
      case "welcome":
        this.#id = message.id;
        if (this.#options.waitForWelcome) this.#ready(ws);
        return;
      case "error":
        this.#report(new ProtocolError(message.code, message.message));
        return;
      case "invalid":
        if (message.ackId !== undefined) {
          ws.send(encodeAckError(message.ackId, { message: message.reason, code: WireErrorCode.invalidEnvelope }));
        }
        this.#report(new ProtocolError(WireErrorCode.invalidEnvelope, `Invalid envelope from the server: ${message.reason}`));
    }
  }

  #dispatch(ws: WebSocketLike, name: string, data: unknown, ackId: number | undefined): void {
    const handlers = this.#handlers.get(name) ?? [];
    let first: Promise<unknown> | undefined;
    for (const handler of handlers) {
      // The answering handler's failure goes to the server (as `x`); every other one to `onError`.
      if (ackId !== undefined && first === undefined) first = callAsync(handler, data);
      else callGuarded(this.#report, handler, data);
    }
    if (ackId === undefined) return;
    // The answer goes back on the connection the call came on, and only while it is open.
    const reply = (text: string) => {
      if (ws === this.#ws && ws.readyState === OPEN) ws.send(text);
    };
    if (first === undefined) {
      reply(encodeAckError(ackId, { message: `No handler for "${name}"`, code: WireErrorCode.unknownEvent }));
      return;
    }
    whenSettled(
      first,
      (result) => {
        let text: string;
        try {
          text = encodeAck(ackId, result);
        } catch {
          text = encodeAckError(ackId, { message: "Result is not JSON", code: WireErrorCode.invalidResult });
        }
        reply(text);
      },
      (error: unknown) => reply(encodeAckError(ackId, toErrorPayload(error))),
      this.#report,
    );
  }
}

function ignore(): void {}
