/**
 * `wsmount/testing`: a test client for your own tests of wsmount endpoints, whatever they are mounted on
 * (Express, Fastify, Koa, node:http). It opens a real WebSocket connection (with `ws`) to a listening server,
 * keeps every message from the open on, and offers promise-returning helpers that fail with a clear error
 * after a timeout (2 s by default). It depends on no test framework: use it with vitest, jest, node:test...
 *
 * @example
 * ```ts
 * import { openTestClient, expectRefused } from "wsmount/testing";
 *
 * const client = await openTestClient<ServerEvents, ClientEvents>(server, { path: "/chat" });
 * client.emit("chat:send", { room: "lobby", text: "hi" });
 * expect(await client.nextEvent("chat:message")).toMatchObject({ text: "hi" });
 * expect(await client.call("rooms:join", "lobby")).toEqual({ members: 1 });
 * client.close();
 *
 * expect((await expectRefused(server, { path: "/chat" })).status).toBe(401);
 * ```
 * @module
 */
import type { IncomingHttpHeaders, IncomingMessage, Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server as TlsServer } from "node:tls";
import { WebSocket } from "ws";
import { decode, encodeAck, encodeAckError, encodeEvent, toErrorPayload } from "../core/protocol/index.js";
import { AckErrorCode } from "../core/protocol/constants.js";
import { AckError, ProtocolError, RemoteError } from "../core/protocol/errors.js";
import type {
  AckArgs,
  AckOptions,
  AckResult,
  DefaultEventMap,
  EventArgs,
  EventData,
  EventHandler,
  EventMap,
  EventNames,
  JsonValue,
} from "../core/protocol/types.js";

export { AckError, ProtocolError, RemoteError };
export type { AckOptions, DefaultEventMap, EventMap };

/** The default time every wait allows, in milliseconds. */
export const DEFAULT_TIMEOUT = 2_000;

/**
 * Where to connect: a WebSocket URL (`ws://127.0.0.1:3000/chat`), or a listening `http.Server` (or
 * `https.Server`, connected to with `wss:`) with the `path` option. Servers listening on all interfaces are
 * reached on the loopback address.
 */
export type TestTarget = string | URL | Pick<HttpServer, "address">;

/** Options of {@link openTestClient} and {@link expectRefused}. */
export interface TestClientOptions {
  /** The path (and query) to connect to, e.g. `/chat?room=1`: replaces the URL's. @defaultValue `/` for a server */
  path?: string;
  /** Request headers of the handshake (`authorization`, `cookie`, `origin`...). */
  headers?: Record<string, string>;
  /** Subprotocols to offer. */
  protocols?: string | string[];
  /** Milliseconds each wait of this client allows (opening, `nextMessage`, `nextEvent`, `call`...). @defaultValue 2000 */
  timeout?: number;
}

/** Options of one wait. */
export interface WaitOptions {
  /** Milliseconds to wait; `0` waits with no limit. @defaultValue the client's `timeout` */
  timeout?: number;
}

/** How a connection closed. */
export interface CloseInfo {
  /** The close code (`1005` when the closing frame had none, `1006` when the connection dropped without one). */
  code: number;
  /** The close reason (empty when none). */
  reason: string;
}

/** A message that is not an event envelope: text as a string, binary data as a `Buffer`. */
export type TestMessage = string | Buffer;

/** What a refused handshake answered. */
export interface RefusedHandshake {
  status: number;
  headers: IncomingHttpHeaders;
  /** The response body, as UTF-8 text. */
  body: string;
}

/** Resolves a target and a path into the URL to connect to. */
export function testUrl(target: TestTarget, path?: string): string {
  if (typeof target === "string" || target instanceof URL) {
    const url = new URL(String(target));
    if (path !== undefined) {
      const replaced = new URL(path, url);
      url.pathname = replaced.pathname;
      url.search = replaced.search;
    }
    return url.toString();
  }
  const address = target.address();
  if (address === null || typeof address === "string") {
    throw new TypeError(
      address === null
        ? "The server is not listening: await its listen() before opening a test client"
        : `The server listens on a pipe (${address}): pass a ws:// URL instead`,
    );
  }
  const scheme = target instanceof TlsServer ? "wss" : "ws";
  return `${scheme}://${hostOf(address)}:${address.port}${path ?? "/"}`;
}

function hostOf(address: AddressInfo): string {
  if (address.address === "0.0.0.0" || address.address === "") return "127.0.0.1";
  if (address.address === "::") return "[::1]";
  return address.family === "IPv6" || address.address.includes(":") ? `[${address.address}]` : address.address;
}

function describeClose(info: CloseInfo): string {
  return info.reason === "" ? `code ${info.code}` : `code ${info.code}, reason ${JSON.stringify(info.reason)}`;
}

function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  onTimeout?: () => void,
  makeError: (message: string) => Error = (message) => new Error(message),
): Promise<T> {
  if (ms <= 0 || !Number.isFinite(ms)) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout?.();
      reject(makeError(`Timed out after ${ms} ms waiting for ${what}`));
    }, ms);
    timer.unref?.();
    promise.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (error: unknown) => (clearTimeout(timer), reject(error)),
    );
  });
}

interface Waiter<T> {
  readonly what: string;
  readonly accept: (item: T) => boolean;
  readonly resolve: (item: T) => void;
  readonly reject: (error: Error) => void;
}

/** Items kept in arrival order until a waiter takes them; waiters are served in the order they asked. */
class Inbox<T> {
  readonly items: T[] = [];
  readonly waiters: Array<Waiter<T>> = [];

  push(item: T): void {
    const index = this.waiters.findIndex((w) => w.accept(item));
    if (index >= 0) this.waiters.splice(index, 1)[0]!.resolve(item);
    else this.items.push(item);
  }

  take(accept: (item: T) => boolean, closed: CloseInfo | undefined, what: string, ms: number): Promise<T> {
    const index = this.items.findIndex(accept);
    if (index >= 0) return Promise.resolve(this.items.splice(index, 1)[0]!);
    if (closed !== undefined) return Promise.reject(new Error(`The connection closed (${describeClose(closed)}) before ${what}`));
    let waiter!: Waiter<T>;
    const promise = new Promise<T>((resolve, reject) => (waiter = { what, accept, resolve, reject }));
    this.waiters.push(waiter);
    return withTimeout(promise, ms, what, () => {
      const at = this.waiters.indexOf(waiter);
      if (at >= 0) this.waiters.splice(at, 1);
    });
  }

  fail(closed: CloseInfo): void {
    for (const waiter of this.waiters.splice(0)) {
      waiter.reject(new Error(`The connection closed (${describeClose(closed)}) before ${waiter.what}`));
    }
  }
}

interface ReceivedEvent {
  readonly name: string;
  readonly data: JsonValue | undefined;
}

interface PendingCall {
  readonly event: string;
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: Error) => void;
}

/**
 * A connection opened by {@link openTestClient}. `In` types the events the server sends (`nextEvent`,
 * `onCall`), `Out` the events this client sends (`emit`, `call`): the maps the endpoint is typed with.
 */
export class TestClient<In extends EventMap = DefaultEventMap, Out extends EventMap = DefaultEventMap> {
  /** The URL connected to. */
  readonly url: string;
  /** Error notices (`!`) the server sent about messages of this client. */
  readonly protocolErrors: ProtocolError[] = [];
  /** The connection id from the server's welcome message, when it sends one. */
  id: string | undefined;

  readonly #socket: WebSocket;
  readonly #timeout: number;
  readonly #messages = new Inbox<TestMessage>();
  readonly #events = new Inbox<ReceivedEvent>();
  readonly #pending = new Map<number, PendingCall>();
  readonly #handlers = new Map<string, (data: any) => unknown>();
  /** Calls from the server for events with no handler yet: answered once one is set with `onCall`. */
  readonly #unanswered: Array<{ name: string; data: JsonValue | undefined; ackId: number }> = [];
  readonly #closed: Promise<CloseInfo>;
  #closeInfo: CloseInfo | undefined;
  #nextAckId = 0;

  /** @internal use {@link openTestClient} */
  constructor(socket: WebSocket, url: string, timeout: number) {
    this.#socket = socket;
    this.url = url;
    this.#timeout = timeout;
    socket.on("message", (data, isBinary) => this.#receive(data, isBinary));
    this.#closed = new Promise((resolve) => {
      socket.once("close", (code, reason) => {
        const info = { code, reason: reason.toString() };
        this.#closeInfo = info;
        this.#messages.fail(info);
        this.#events.fail(info);
        for (const [, call] of this.#pending) {
          call.reject(new AckError(call.event, AckErrorCode.disconnected, `The connection closed (${describeClose(info)}) before the answer to call "${call.event}"`));
        }
        this.#pending.clear();
        resolve(info);
      });
    });
    // A socket error is followed by "close"; keeping a listener stops it from being thrown as unhandled.
    socket.on("error", () => {});
  }

  #receive(raw: import("ws").RawData, isBinary: boolean): void {
    const bytes = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw as ArrayBuffer);
    if (isBinary) return this.#messages.push(bytes);
    const text = bytes.toString("utf8");
    const message = decode(text);
    switch (message.kind) {
      case "raw":
      case "invalid":
        return this.#messages.push(text);
      case "welcome":
        this.id = message.id;
        return;
      case "error":
        this.protocolErrors.push(new ProtocolError(message.code, message.message));
        return;
      case "ack":
      case "ackError": {
        const call = this.#pending.get(message.ackId);
        if (call === undefined) return;
        this.#pending.delete(message.ackId);
        if (message.kind === "ack") call.resolve(message.result);
        else call.reject(new RemoteError(call.event, message.error.message, message.error.code));
        return;
      }
      case "event":
        if (message.ackId === undefined) return this.#events.push({ name: message.name, data: message.data });
        if (this.#handlers.has(message.name)) this.#answer(message.name, message.data, message.ackId);
        else this.#unanswered.push({ name: message.name, data: message.data, ackId: message.ackId });
        return;
    }
  }

  #answer(name: string, data: JsonValue | undefined, ackId: number): void {
    const handler = this.#handlers.get(name)!;
    const reply = (text: string) => {
      if (this.#socket.readyState === WebSocket.OPEN) this.#socket.send(text);
    };
    Promise.resolve()
      .then(() => handler(data))
      .then(
        (result) => reply(encodeAck(ackId, result)),
        (error: unknown) => reply(encodeAckError(ackId, toErrorPayload(error))),
      )
      .catch((error: unknown) => reply(encodeAckError(ackId, { message: String(error), code: "ERR_WSMOUNT_INVALID_RESULT" })));
  }

  #wait(options: WaitOptions | undefined): number {
    return options?.timeout ?? this.#timeout;
  }

  #checkOpen(what: string): void {
    if (this.#socket.readyState !== WebSocket.OPEN) {
      const state = this.#closeInfo === undefined ? "is closing" : `closed (${describeClose(this.#closeInfo)})`;
      throw new Error(`Cannot ${what}: the connection ${state}`);
    }
  }

  /** Sends a raw message (text, or binary data). @throws Error when the connection is not open. */
  send(data: string | Buffer | ArrayBuffer | ArrayBufferView): void {
    this.#checkOpen("send");
    this.#socket.send(data);
  }

  /**
   * The next message that is not an event envelope (what the server sent with `send`), in arrival order: text
   * as a string, binary data as a `Buffer`. Messages are kept from the open on, so none is missed.
   * @throws Error after the timeout, or when the connection closes first.
   */
  nextMessage(options?: WaitOptions): Promise<TestMessage> {
    return this.#messages.take(() => true, this.#closeInfo, "the next message", this.#wait(options));
  }

  /** Sends event `event` with its data (typed by `Out`). @throws Error when the connection is not open. */
  emit<K extends EventNames<Out>>(event: K, ...args: EventArgs<Out, K>): void {
    this.#checkOpen(`emit "${event}"`);
    this.#socket.send(encodeEvent(event, args[0]));
  }

  /**
   * The data of the next event `event` the server emits (typed by `In`). Events are kept from the open on,
   * by name: waiting for one event leaves the others queued for their own waits.
   * @throws Error after the timeout, or when the connection closes first.
   */
  nextEvent<K extends EventNames<In>>(event: K, options?: WaitOptions): Promise<EventData<In, K>> {
    return this.#events
      .take((e) => e.name === event, this.#closeInfo, `event "${event}"`, this.#wait(options))
      .then((e) => e.data as EventData<In, K>);
  }

  /**
   * Emits `event` as a call and resolves with the server's answer (typed by `Out`); options (`timeout`) come
   * after the data.
   * @throws RemoteError with the server's message and code when its handler failed (or no handler exists:
   * `ERR_WSMOUNT_UNKNOWN_EVENT`); Error when the connection is not open; AckError when the connection closes
   * first (`ERR_WSMOUNT_DISCONNECTED`) or after the timeout (`ERR_WSMOUNT_ACK_TIMEOUT`).
   */
  call<K extends EventNames<Out>>(event: K, ...args: AckArgs<Out, K>): Promise<AckResult<Out, K>> {
    try {
      this.#checkOpen(`call "${event}"`);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const options = args[1] as AckOptions | undefined;
    let ackId = this.#nextAckId;
    while (this.#pending.has(ackId)) ackId = (ackId + 1) % 2_147_483_648;
    this.#nextAckId = (ackId + 1) % 2_147_483_648;
    const answer = new Promise<AckResult<Out, K>>((resolve, reject) => {
      this.#pending.set(ackId, { event, resolve: resolve as (result: unknown) => void, reject });
    });
    this.#socket.send(encodeEvent(event, args[0], ackId));
    return withTimeout(
      answer,
      options?.timeout ?? this.#timeout,
      `the answer to call "${event}"`,
      () => this.#pending.delete(ackId),
      (message) => new AckError(event, AckErrorCode.timeout, message),
    );
  }

  /**
   * Answers the server's calls (`emitWithAck`) of event `event` with `handler`: its return value (or resolved
   * value) is the result, a throw (or rejection) is sent as the error. Calls that arrived before a handler was
   * set are answered now. Returns a function that removes the handler.
   */
  onCall<K extends EventNames<In>>(event: K, handler: EventHandler<In, K>): () => void {
    const fn = handler as (data: any) => unknown;
    this.#handlers.set(event, fn);
    for (let i = 0; i < this.#unanswered.length; ) {
      const call = this.#unanswered[i]!;
      if (call.name === event) {
        this.#unanswered.splice(i, 1);
        this.#answer(call.name, call.data, call.ackId);
      } else i++;
    }
    return () => {
      if (this.#handlers.get(event) === fn) this.#handlers.delete(event);
    };
  }

  /**
   * How the connection closed, once it has (by either side).
   * @throws Error when it is still open after the timeout.
   */
  closed(options?: WaitOptions): Promise<CloseInfo> {
    return withTimeout(this.#closed, this.#wait(options), "the connection to close");
  }

  /**
   * Waits for the connection to close with `code` (and `reason`, a string or a pattern, when given).
   * @throws Error naming the code and reason received when they differ, or after the timeout.
   */
  async expectClose(code: number, reason?: string | RegExp, options?: WaitOptions): Promise<CloseInfo> {
    const info = await withTimeout(this.#closed, this.#wait(options), `the connection to close with code ${code}`);
    const reasonOk = reason === undefined || (typeof reason === "string" ? info.reason === reason : reason.test(info.reason));
    if (info.code !== code || !reasonOk) {
      const expected = reason === undefined ? `code ${code}` : `code ${code}, reason ${typeof reason === "string" ? JSON.stringify(reason) : String(reason)}`;
      throw new Error(`Expected the connection to close with ${expected}; it closed with ${describeClose(info)}`);
    }
    return info;
  }

  /**
   * Closes the connection (default code 1000) and resolves once it is closed; a server that does not answer
   * the closing handshake within the timeout is cut off. Never rejects: meant for cleanup too.
   */
  close(code?: number, reason?: string): Promise<CloseInfo> {
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.close(code ?? 1000, reason);
    else if (this.#socket.readyState === WebSocket.CONNECTING) this.#socket.terminate();
    return withTimeout(this.#closed, this.#timeout, "the closing handshake").catch(() => {
      this.#socket.terminate();
      return this.#closed;
    });
  }
}

function openSocket(target: TestTarget, options: TestClientOptions): { socket: WebSocket; url: string } {
  const url = testUrl(target, options.path);
  const socket = new WebSocket(url, options.protocols ?? [], { headers: options.headers });
  return { socket, url };
}

function readBody(response: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    response.on("data", (chunk: Buffer) => chunks.push(chunk));
    response.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    response.on("error", () => resolve(Buffer.concat(chunks).toString("utf8")));
    response.on("close", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

/**
 * Opens a connection to a wsmount endpoint and resolves once it is open. `In` types the events the server
 * sends, `Out` the events this client sends.
 * @throws Error when the handshake is refused (naming the status and body), fails, or times out.
 */
export function openTestClient<In extends EventMap = DefaultEventMap, Out extends EventMap = DefaultEventMap>(
  target: TestTarget,
  options: TestClientOptions = {},
): Promise<TestClient<In, Out>> {
  const timeout = options.timeout ?? DEFAULT_TIMEOUT;
  const { socket, url } = openSocket(target, options);
  const client = new TestClient<In, Out>(socket, url, timeout);
  const opened = new Promise<TestClient<In, Out>>((resolve, reject) => {
    socket.once("open", () => resolve(client));
    socket.once("unexpected-response", (_request, response) => {
      void readBody(response).then((body) => {
        socket.terminate();
        const text = body === "" ? "" : `: ${body.length > 200 ? `${body.slice(0, 200)}...` : body}`;
        reject(new Error(`The handshake to ${url} was refused with ${response.statusCode ?? "no status"}${text}`));
      });
    });
    socket.once("error", (error) => reject(new Error(`The connection to ${url} failed: ${error.message}`, { cause: error })));
  });
  return withTimeout(opened, timeout, `the connection to ${url} to open`, () => socket.terminate());
}

/**
 * Attempts a handshake that must be refused (by middleware, `authenticate`, the origin check...) and resolves
 * with the HTTP response the server answered.
 * @throws Error when the handshake succeeds, when the connection fails without an HTTP response, or after the
 * timeout.
 */
export function expectRefused(target: TestTarget, options: TestClientOptions = {}): Promise<RefusedHandshake> {
  const { socket, url } = openSocket(target, options);
  socket.on("error", () => {});
  const refused = new Promise<RefusedHandshake>((resolve, reject) => {
    socket.once("open", () => {
      socket.terminate();
      reject(new Error(`Expected the handshake to ${url} to be refused, but it succeeded`));
    });
    socket.once("unexpected-response", (_request, response) => {
      void readBody(response).then((body) => {
        socket.terminate();
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body });
      });
    });
    socket.once("error", (error) =>
      reject(new Error(`Expected an HTTP refusal from ${url}, but the connection failed: ${error.message}`, { cause: error })),
    );
  });
  return withTimeout(refused, options.timeout ?? DEFAULT_TIMEOUT, `the refusal of the handshake to ${url}`, () => socket.terminate());
}
