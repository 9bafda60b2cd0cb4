/**
 * One upgrade request, from the server's `'upgrade'` event to a WebSocket or an HTTP answer, as a small
 * state machine. Read top to bottom:
 *
 *   received ─┬─ waiting (an earlier pipelined response is still being written) ─┐
 *             └──────────────────────────────────────────────────────────────────┴─ routing (the framework's
 *   request handler runs on a response bound to the socket) ─ claimed (an endpoint's route took it: checks,
 *   origin, authenticate, id, headers) ─ accepting (the 101) ─ accepted
 *
 * and every other way out: refused (an HTTP error from wsmount), answered (the framework answered),
 * released (left to another `'upgrade'` listener), timed out, aborted (the socket closed), failed (a fault
 * in code called on the way: reported, then `500` or a destroyed socket).
 *
 * Every socket has a deadline from the `'upgrade'` event until it is a WebSocket, closed, or really taken
 * by another listener; every call out of here goes through the guard; nothing throws out of the listener.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { publish, handshakeRefusedChannel } from "../diagnostics.js";
import { ErrorCode, HandshakeRejection, WsmountError } from "../errors.js";
import { THREW, callAsync, callGuarded, callSync, isThenable, whenSettled } from "../guard.js";
import { validateHeaders, type AuthResult, type ResolvedOptions } from "../options.js";
import type { Counters } from "../stats.js";
import type { SocketLike } from "../types.js";
import type { Acceptor } from "./accept.js";
import { checkHandshake, isAllowedHost, isAllowedOrigin, isForwardableHeader, isSameOrigin, selectSubprotocol, type Refusal, type RefusalReason } from "./handshake.js";
import { bindResponse, responseInFlight, unbindResponse } from "./node-compat.js";
import { endSocket, writeResponse } from "./respond.js";

/** Where an upgrade stands. */
export const Phase = {
  Received: 0,
  Waiting: 1,
  Routing: 2,
  Claimed: 3,
  Accepting: 4,
  Accepted: 5,
  Refused: 6,
  Answered: 7,
  Released: 8,
  TimedOut: 9,
  Aborted: 10,
  Failed: 11,
} as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

/** Hears of faults on the way (the attachments the upgrade was routed for, then the endpoint that claimed it). */
export interface ErrorSink {
  reportError(error: Error): void;
}

/** What an endpoint gives the handshake it claimed. */
export interface HandshakeTarget extends ErrorSink {
  readonly options: ResolvedOptions<unknown>;
  readonly counters: Counters;
  readonly acceptor: Acceptor;
  /** A refusal when the endpoint takes no new handshake now (shutting down, at capacity); else null. */
  admission(): Refusal | null;
  /** Handshakes under way hold a slot of `maxConnections` from their checks to their end. */
  holdSlot(delta: 1 | -1): void;
  hasConnection(id: string): boolean;
}

const kAttempt = Symbol("wsmount.upgradeAttempt");
type TrackedRequest = IncomingMessage & { [kAttempt]?: UpgradeAttempt | undefined };

/** The sockets of upgrades under way (removed when each ends; every one has a deadline). */
const attempts = new Map<Duplex, UpgradeAttempt>();

const NO_SINKS: readonly ErrorSink[] = [];
const INTERNAL_ERROR: Refusal = { status: 500, reason: "error", body: "Internal Server Error" };
const SHUTTING_DOWN: Refusal = { status: 503, reason: "shutting-down", body: "WebSocket endpoint is shutting down", headers: { "Retry-After": "1" } };

/** The upgrade of a request that came through a wsmount `'upgrade'` listener. */
export function attemptOf(request: IncomingMessage): UpgradeAttempt | undefined {
  return (request as TrackedRequest)[kAttempt];
}

export class UpgradeAttempt {
  readonly request: IncomingMessage;
  readonly socket: Duplex;
  readonly head: Buffer;
  #phase: Phase = Phase.Received;
  #timer: NodeJS.Timeout | null = null;
  #response: ServerResponse | null = null;
  #sinks: readonly ErrorSink[] = NO_SINKS;
  #target: HandshakeTarget | null = null;
  #holdsSlot = false;
  /** Bytes written to the socket when it was released (to tell whether another listener took it). */
  #writtenAtRelease = 0;

  constructor(request: IncomingMessage, socket: Duplex, head: Buffer) {
    this.request = request;
    this.socket = socket;
    this.head = head;
    // Node removed its own 'error' listener before emitting 'upgrade': without one, a reset during
    // async middleware would be an uncaught exception.
    socket.on("error", socketOnError);
    socket.on("close", socketOnClose);
    attempts.set(socket, this);
    (request as TrackedRequest)[kAttempt] = this;
  }

  get phase(): Phase {
    return this.#phase;
  }

  /** True once the upgrade has ended, one way or another. */
  get done(): boolean {
    return this.#phase >= Phase.Accepted;
  }

  /** Arms the deadline; `sinks` hear of faults until an endpoint claims the upgrade. */
  start(timeout: number, sinks: readonly ErrorSink[]): void {
    this.#sinks = sinks;
    if (this.#timer === null && !this.done) this.#timer = setTimeout(attemptOnDeadline, timeout, this);
  }

  /**
   * Runs `step` once no earlier request of this connection is still being answered (RFC 9112 section
   * 9.3.2: responses go out in the order of the requests). A fault in `step` fails the upgrade.
   */
  afterEarlierResponses(step: (attempt: UpgradeAttempt) => void): void {
    if (this.done) return;
    const earlier = responseInFlight(this.socket);
    if (earlier != null) {
      this.#phase = Phase.Waiting;
      // Node's own 'finish' listener runs first and hands the socket to the next queued response, if any.
      earlier.once("finish", () => this.afterEarlierResponses(step));
      return;
    }
    if (this.#phase === Phase.Waiting) this.#phase = Phase.Received;
    try {
      step(this);
    } catch (error) {
      this.fail(error);
    }
  }

  /**
   * Runs the request through the framework's request handlers on a response bound to the socket. When
   * `shared` (another `'upgrade'` listener exists), a `404` from the framework releases the socket to it.
   */
  route(server: object, handlers: ReadonlyArray<(request: IncomingMessage, response: ServerResponse) => void>, shared: boolean): void {
    let response: ServerResponse;
    try {
      response = bindResponse(this.request, this.socket);
    } catch {
      // An earlier response still holds the socket and this Node cannot say which: close after it.
      this.#end(Phase.Aborted);
      endSocket(this.socket);
      return;
    }
    // An own property, because Express replaces the response's prototype with its own.
    if (shared) response.writeHead = writeHeadOrRelease as ServerResponse["writeHead"];
    response.on("finish", responseOnFinish);
    this.#response = response;
    this.#phase = Phase.Routing;
    for (const handler of handlers) {
      handler.call(server, this.request, response);
      if (this.#phase !== Phase.Routing) return;
    }
  }

  /**
   * An endpoint's route takes the upgrade: the socket leaves the framework's response, whose headers
   * (set by middleware) are returned for the 101. `null` when the upgrade was not routed.
   */
  claim(target: HandshakeTarget): Record<string, unknown> | null {
    this.#target = target;
    this.#sinks = NO_SINKS;
    this.#phase = Phase.Claimed;
    const response = this.#response;
    if (response === null) return null;
    this.#response = null;
    response.removeListener("finish", responseOnFinish);
    const headers = response.getHeaders();
    unbindResponse(response, this.socket);
    // For the framework the HTTP exchange is over: 'finish' releases the listeners that on-finished
    // (Koa, Express middleware) put on the socket, which would otherwise report the WebSocket's later
    // socket errors as request errors and keep the request context alive as long as the connection.
    response.statusCode = 101;
    try {
      response.emit("finish");
    } catch (error) {
      target.reportError(internal("a 'finish' listener of the framework's response failed", error));
    }
    return headers;
  }

  /** Refuses a claimed upgrade with an HTTP error, counted in the endpoint's stats. */
  refuse(refusal: Refusal | HandshakeRejection): void {
    const target = this.#target;
    if (this.#phase !== Phase.Claimed || target === null) return;
    const reason: RefusalReason = refusal instanceof HandshakeRejection ? "auth" : refusal.reason;
    this.#end(Phase.Refused);
    target.counters.refuse(reason);
    publish(handshakeRefusedChannel, { endpoint: target, request: this.request, status: refusal.status, reason });
    writeResponse(this.socket, refusal.status, refusal.headers ?? {}, refusal.body);
  }

  /** Answers an upgrade no endpoint wants (`404` when nobody else listens). */
  answer(status: number, body: string): void {
    if (this.done) return;
    this.#end(Phase.Answered);
    writeResponse(this.socket, status, {}, body);
  }

  /** Leaves the socket to the server's other `'upgrade'` listeners, still under the deadline. */
  release(): void {
    if (this.done) return;
    this.#phase = Phase.Released;
    const response = this.#response;
    if (response !== null) {
      this.#response = null;
      response.removeListener("finish", responseOnFinish);
      unbindResponse(response, this.socket);
      // The response corked the socket in end() before writeHead; detached, it would never uncork it.
      const socket = this.socket as Duplex & { writableCorked?: number };
      while ((socket.writableCorked ?? 0) > 0) socket.uncork();
    }
    this.#writtenAtRelease = bytesWritten(this.socket);
  }

  /** Writes the 101 and starts the WebSocket; `opened` gets it. */
  accept(protocol: string | null, headerLines: string[], opened: (ws: SocketLike) => void): void {
    const target = this.#target;
    if (this.#phase !== Phase.Claimed || target === null) return;
    this.#phase = Phase.Accepting;
    try {
      target.acceptor.complete(this.request, this.socket, this.head, protocol, headerLines, (ws) => {
        this.#end(Phase.Accepted);
        // From here `ws` guards the socket itself.
        this.socket.removeListener("error", socketOnError);
        try {
          opened(ws);
        } catch (error) {
          target.reportError(internal("opening the connection failed", error));
          ws.terminate();
        }
      });
    } catch (error) {
      this.fail(error);
      return;
    }
    // `ws` destroys a socket that is no longer readable and writable instead of upgrading it.
    if (this.#phase === Phase.Accepting && this.socket.destroyed) this.#end(Phase.Aborted);
  }

  /**
   * A fault in code called on the way (the framework's handler, a hook, wsmount itself): reported, then
   * the client gets `500` when nothing was written to it yet, else the socket is destroyed.
   */
  fail(error: unknown): void {
    const report = error instanceof WsmountError ? error : internal("serving an upgrade request failed", error);
    reportToAll(this.#target !== null ? [this.#target] : this.#sinks, report);
    if (this.done && this.#phase !== Phase.Released) return;
    const untouched = this.#phase !== Phase.Waiting && this.#phase !== Phase.Accepting && this.#phase !== Phase.Released && this.#response?.headersSent !== true;
    this.#end(Phase.Failed);
    if (untouched) writeResponse(this.socket, 500, {}, "Internal Server Error");
    else this.socket.destroy();
  }

  /** The deadline passed. */
  expire(): void {
    this.#timer = null;
    const phase = this.#phase;
    if (phase === Phase.Released) {
      // Another listener took the socket if it wrote to it or reads from it; otherwise nobody did.
      this.#end(Phase.TimedOut);
      if (!wasTaken(this.socket, this.#writtenAtRelease)) writeResponse(this.socket, 404, {}, "Not Found");
      return;
    }
    if (this.done) return;
    const untouched = phase !== Phase.Waiting && phase !== Phase.Accepting && this.#response?.headersSent !== true;
    const target = this.#target;
    this.#end(Phase.TimedOut);
    if (target !== null) {
      target.counters.refuse("timeout");
      publish(handshakeRefusedChannel, { endpoint: target, request: this.request, status: 503, reason: "timeout" });
    }
    if (untouched) writeResponse(this.socket, 503, { "Retry-After": "1" }, "WebSocket handshake timed out");
    else this.socket.destroy();
  }

  /** The socket closed before the upgrade ended. */
  aborted(): void {
    if (!this.done || this.#phase === Phase.Released) this.#end(Phase.Aborted);
  }

  /** @internal the framework answered the request itself: that response is the whole exchange. */
  answeredByFramework(): void {
    if (this.#phase !== Phase.Routing) return;
    this.#end(Phase.Answered);
    endSocket(this.socket);
  }

  /** @internal the framework found no route while another listener shares the server. */
  notFoundByFramework(): void {
    if (this.#phase === Phase.Routing) this.release();
  }

  /** Holds one of the target's `maxConnections` slots until the upgrade ends. */
  holdSlot(): void {
    if (this.#holdsSlot || this.#target === null) return;
    this.#holdsSlot = true;
    this.#target.holdSlot(1);
  }

  #end(phase: Phase): void {
    this.#phase = phase;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.socket.removeListener("close", socketOnClose);
    attempts.delete(this.socket);
    const response = this.#response;
    if (response !== null) {
      this.#response = null;
      response.removeListener("finish", responseOnFinish);
      unbindResponse(response, this.socket);
    }
    if (this.#holdsSlot) {
      this.#holdsSlot = false;
      this.#target?.holdSlot(-1);
    }
  }
}

/**
 * Everything between an endpoint claiming the upgrade and the 101 (or its refusal): the checks that
 * need nothing async, then the origin function and `authenticate`, then the id and the headers.
 */
export function runHandshake(
  attempt: UpgradeAttempt,
  target: HandshakeTarget,
  middlewareHeaders: Record<string, unknown> | null,
  opened: (ws: SocketLike, id: string, data: unknown) => void,
): void {
  try {
    handshakeSteps(attempt, target, middlewareHeaders, opened);
  } catch (error) {
    attempt.fail(error);
  }
}

function handshakeSteps(
  attempt: UpgradeAttempt,
  target: HandshakeTarget,
  middlewareHeaders: Record<string, unknown> | null,
  opened: (ws: SocketLike, id: string, data: unknown) => void,
): void {
  const request = attempt.request;
  const options = target.options;
  const refusal = target.admission() ?? checkHandshake(request) ?? hostRefusal(options, request) ?? staticOriginRefusal(options, request);
  if (refusal !== null) return attempt.refuse(refusal);
  const protocol = selectSubprotocol(request.headers["sec-websocket-protocol"], options.subprotocols);
  if (protocol !== null && typeof protocol === "object") return attempt.refuse(protocol);
  attempt.holdSlot();
  if (typeof options.checkOrigin !== "function" && options.authenticate === undefined) {
    return complete(attempt, target, protocol, middlewareHeaders, undefined, opened);
  }
  whenSettled(
    authorize(options, request),
    (verdict) => {
      if (verdict.refusal !== undefined) attempt.refuse(verdict.refusal);
      else complete(attempt, target, protocol, middlewareHeaders, verdict.auth, opened);
    },
    (error) => {
      target.reportError(error instanceof WsmountError ? error : handlerFailed("a handshake hook", error));
      attempt.refuse({ status: 500, reason: "error", body: "Internal Server Error" });
    },
    (error) => attempt.fail(error),
  );
}

function hostRefusal(options: ResolvedOptions<unknown>, request: IncomingMessage): Refusal | null {
  return isAllowedHost(request, options.allowedHosts, options.trustProxy) ? null : { status: 403, reason: "host", body: "Host not allowed" };
}

function staticOriginRefusal(options: ResolvedOptions<unknown>, request: IncomingMessage): Refusal | null {
  const { checkOrigin } = options;
  if (typeof checkOrigin === "function") return null;
  const allowed = checkOrigin === true ? isSameOrigin(request, options.trustProxy) : checkOrigin === false || isAllowedOrigin(request.headers.origin, checkOrigin);
  return allowed ? null : { status: 403, reason: "origin", body: "Origin not allowed" };
}

type Verdict = { refusal: Refusal | HandshakeRejection; auth?: never } | { refusal?: never; auth: AuthResult<unknown> };

/** The async part: an origin function, then `authenticate`. */
async function authorize(options: ResolvedOptions<unknown>, request: IncomingMessage): Promise<Verdict> {
  const { checkOrigin, authenticate } = options;
  if (typeof checkOrigin === "function") {
    let allowed: boolean;
    try {
      allowed = await callAsync(checkOrigin, request.headers.origin, request);
    } catch (error) {
      throw handlerFailed("checkOrigin", error);
    }
    if (allowed !== true) return { refusal: { status: 403, reason: "origin", body: "Origin not allowed" } };
  }
  if (authenticate === undefined) return { auth: undefined };
  let result: AuthResult<unknown>;
  try {
    result = await callAsync(authenticate, request);
  } catch (error) {
    if (error instanceof HandshakeRejection) return { refusal: error };
    throw handlerFailed("authenticate", error);
  }
  if (result === false) return { refusal: { status: 401, reason: "auth", body: "Unauthorized" } };
  if (result instanceof HandshakeRejection) return { refusal: result };
  return { auth: result };
}

function complete(
  attempt: UpgradeAttempt,
  target: HandshakeTarget,
  protocol: string | null,
  middlewareHeaders: Record<string, unknown> | null,
  auth: AuthResult<unknown>,
  opened: (ws: SocketLike, id: string, data: unknown) => void,
): void {
  // The socket may have closed, or the deadline passed, while async checks ran.
  if (attempt.phase !== Phase.Claimed) return;
  const admission = target.admission();
  if (admission !== null && admission.reason === "shutting-down") return attempt.refuse(SHUTTING_DOWN);
  const request = attempt.request;
  const identity = typeof auth === "object" && auth !== null ? (auth as { id?: unknown; data?: unknown }) : {};
  const options = target.options;
  const id = identity.id ?? callSync((error) => target.reportError(handlerFailed("generateId", error)), options.generateId, request);
  if (id === THREW) return attempt.refuse(INTERNAL_ERROR);
  if (typeof id !== "string" || id.length === 0) {
    const source = identity.id === undefined ? "generateId" : "authenticate";
    target.reportError(handlerFailed(source, new TypeError(`connection ids must be non-empty strings, returned synchronously; got ${describe(id)}`)));
    return attempt.refuse(INTERNAL_ERROR);
  }
  const headerLines = headerLinesFor(target, request, middlewareHeaders);
  if (headerLines === null) return attempt.refuse(INTERNAL_ERROR);
  if (target.hasConnection(id)) return attempt.refuse({ status: 409, reason: "conflict", body: "A connection with this id is already open" });
  const connectionId = id;
  attempt.accept(protocol, headerLines, (ws) => opened(ws, connectionId, identity.data));
}

/** The 101's extra lines: what middleware set (forwardable ones), then the `headers` option; null when `headers` failed. */
function headerLinesFor(target: HandshakeTarget, request: IncomingMessage, middlewareHeaders: Record<string, unknown> | null): string[] | null {
  const lines: string[] = [];
  if (middlewareHeaders !== null) {
    for (const [name, value] of Object.entries(middlewareHeaders)) {
      if (value === undefined || !isForwardableHeader(name)) continue;
      for (const item of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${String(item)}`);
    }
  }
  const { headers } = target.options;
  if (headers === undefined) return lines;
  let extra: Record<string, string | readonly string[]>;
  if (typeof headers === "function") {
    const returned = callSync((error) => target.reportError(handlerFailed("headers", error)), headers, request);
    if (returned === THREW) return null;
    try {
      if (returned === null || typeof returned !== "object" || isThenable(returned)) throw new TypeError(`must return an object of headers synchronously; got ${describe(returned)}`);
      validateHeaders(returned as Record<string, unknown>, "headers");
    } catch (error) {
      target.reportError(handlerFailed("headers", error));
      return null;
    }
    extra = returned;
  } else {
    extra = headers;
  }
  for (const [name, value] of Object.entries(extra)) {
    for (const item of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${item}`);
  }
  return lines;
}

/** The error reported when a hook failed (`ERR_WSMOUNT_HANDLER_FAILED`). */
export function handlerFailed(hook: string, error: unknown): WsmountError {
  return new WsmountError(ErrorCode.HANDLER_FAILED, `wsmount: ${hook} failed: ${messageOf(error)}`, { cause: error });
}

/** The error reported for a fault outside the application's hooks (`ERR_WSMOUNT_INTERNAL`). */
export function internal(what: string, error: unknown): WsmountError {
  return new WsmountError(ErrorCode.INTERNAL, `wsmount: ${what}: ${messageOf(error)}`, { cause: error });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (isThenable(value)) return "a promise";
  return value !== null && typeof value === "object" ? "an object" : String(value);
}

/** Reports `error` to each sink; a sink that throws is skipped. */
export function reportToAll(sinks: Iterable<ErrorSink>, error: Error): void {
  for (const sink of sinks) callGuarded(ignore, reportTo, sink, error);
}

function reportTo(sink: ErrorSink, error: Error): void {
  sink.reportError(error);
}

function ignore(): void {}

function bytesWritten(socket: Duplex): number {
  const written = (socket as Duplex & { bytesWritten?: number }).bytesWritten;
  return typeof written === "number" ? written + socket.writableLength : socket.writableLength;
}

function wasTaken(socket: Duplex, writtenAtRelease: number): boolean {
  return socket.destroyed || bytesWritten(socket) > writtenAtRelease || socket.listenerCount("data") > 0 || socket.readableFlowing === true;
}

function attemptOnDeadline(attempt: UpgradeAttempt): void {
  try {
    attempt.expire();
  } catch (error) {
    attempt.socket.destroy();
    attempt.fail(error);
  }
}

function writeHeadOrRelease(this: ServerResponse, statusCode: number, ...rest: unknown[]): ServerResponse {
  if (statusCode === 404) attemptOf(this.req)?.notFoundByFramework();
  const writeHead = Object.getPrototypeOf(this).writeHead as (this: ServerResponse, ...args: unknown[]) => ServerResponse;
  return writeHead.call(this, statusCode, ...rest);
}

function responseOnFinish(this: ServerResponse): void {
  attemptOf(this.req)?.answeredByFramework();
}

function socketOnClose(this: Duplex): void {
  attempts.get(this)?.aborted();
}

function socketOnError(this: Duplex): void {
  this.destroy();
}
