/**
 * A WebSocket endpoint: options, the handshake after routing, the registry of open connections,
 * sessions, stats and graceful shutdown. Framework adapters wrap it; it imports no framework.
 * @module
 */
import { addListener } from "./listeners.js";
import type { IncomingMessage, Server } from "node:http";
import { Connection, ConnectionRequest } from "./connection.js";
import { ErrorCode, WsmountError } from "./errors.js";
import { callGuarded, isThenable, whenSettled } from "./guard.js";
import { brokerErrorChannel, connectionCloseChannel, connectionOpenChannel, errorChannel, publish } from "./diagnostics.js";
import { FaultLog } from "./fault-log.js";
import { joinBudget } from "./memory-budget.js";
import { requireServer } from "./server-argument.js";
import { connectionHeaders, isUpgradeRequest, requestUrl, type Refusal } from "./upgrade/handshake.js";
import { peerAddress } from "./upgrade/node-compat.js";
import { now } from "./clock.js";
import { Heartbeat } from "./heartbeat.js";
import { resolveOptions, type EndpointOptions, type ResolvedOptions } from "./options.js";
import { Counters, type EndpointStats } from "./stats.js";
import { Acceptor } from "./upgrade/accept.js";
import { attemptOf, Phase, runHandshake, type UpgradeAttempt } from "./upgrade/attempt.js";
import { bindingOf, type Attachment, type PathHandler, type ServerBinding } from "./upgrade/binding.js";
import type { SocketLike } from "./types.js";
import type { BrokerChannel, BrokerHost, BrokerStage, ClusterLink, ClusterRequest, Publication, RequestOutcome } from "./broker.js";
import { Broadcast, type Targets } from "./broadcast.js";
import { Cluster, outcomeOf } from "./cluster.js";
import { PreparedMessage } from "./prepared.js";
import { Rooms, type RoomListener, type RoomMember } from "./rooms.js";
import type { DefaultEventMap, EventArgs, EventMap, EventNames } from "./protocol/index.js";

/** Handles a new connection; `context` is what the framework gives its handlers (request or ctx). */
export type ConnectionHandler<Data, Context, In extends EventMap = DefaultEventMap, Out extends EventMap = DefaultEventMap> = (
  connection: Connection<Data, In, Out>,
  context: Context,
) => unknown;

/** How an adapter hands a routed upgrade request to the endpoint. */
export interface RouteMatch<Data, Context, In extends EventMap = DefaultEventMap, Out extends EventMap = DefaultEventMap> {
  /** The user's connection handler. */
  onConnection: ConnectionHandler<Data, Context, In, Out>;
  /** What the connection handler gets as its second argument. */
  context: Context;
  /** Route parameters from the framework's router. */
  params?: Record<string, string> | undefined;
  /**
   * Headers the framework holds outside the raw response (Fastify's `reply.getHeaders()`), forwarded
   * onto the 101 with those middleware set on the response.
   */
  headers?: Record<string, unknown> | undefined;
}

/** A plain HTTP answer an adapter writes through its framework. */
export interface PlainResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Options of {@link Endpoint.attach}. */
export interface AttachOptions {
  /**
   * Only upgrade requests for which this returns true are routed through the framework; others are
   * left to other `'upgrade'` listeners of the server. @defaultValue every request
   */
  shouldHandle?: (request: IncomingMessage) => boolean;
}

/** Options of {@link Endpoint.close}. */
export interface CloseOptions {
  /** Milliseconds to wait for closing handshakes before terminating the rest. @defaultValue 5000 */
  timeout?: number;
  /** Close code sent to open connections. @defaultValue 1001 */
  code?: number;
  /** Close reason sent to open connections. @defaultValue "server shutting down" */
  reason?: string;
}

/** An endpoint-level error handler; `connection` is set when the error belongs to one. */
export type EndpointErrorHandler<Data, In extends EventMap = DefaultEventMap, Out extends EventMap = DefaultEventMap> = (
  error: Error,
  connection?: Connection<Data, In, Out>,
) => unknown;
/** An endpoint-level close handler (oscrud's UseCloseHandler, iris's OnDisconnect). */
export type EndpointCloseHandler<Data, In extends EventMap = DefaultEventMap, Out extends EventMap = DefaultEventMap> = (
  connection: Connection<Data, In, Out>,
  code: number,
  reason: string,
) => unknown;

const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

const Running = 0;
const Closing = 1;
const Closed = 2;

// It is a ConnectionHost and a HandshakeTarget, checked where it is passed as one (new Connection,
// runHandshake): an `implements` clause would not hold in the published declarations, which leave
// out the members marked internal that those interfaces name.
/**
 * The framework-agnostic core of a WebSocket endpoint. Adapters (`wsmount/express`, `wsmount/koa`,
 * `wsmount/fastify`, `wsmount/node`) extend it with the way their framework mounts a route.
 * `In` types the events clients send, `Out` the events the server emits.
 */
export class Endpoint<Data = unknown, In extends EventMap = DefaultEventMap, Out extends EventMap = DefaultEventMap> {
  /** The resolved, frozen options. */
  readonly options: ResolvedOptions<Data>;
  /** @internal */
  readonly counters = new Counters();
  /** @internal the room index of this process */
  readonly rooms = new TrackedRooms<Connection<Data, In, Out>>({
    changed: (room) => this.#channel.cluster?.changed("room", room),
    brokerFailed: (error) => this.#presenceFailed(error),
    maxRoomsPerMember: () => this.options.maxRoomsPerConnection,
    failed: (error, connection) => this.reportError(error, connection),
  });
  /**
   * Questions and acknowledged emits about connections on any process of the endpoint (through the
   * broker; with the default broker, this process is the whole cluster).
   */
  readonly cluster: Cluster<Data, Out>;
  readonly #connections = new Map<string, Connection<Data, In, Out>>();
  readonly #channel: BrokerChannel;
  /** @internal writes the 101 and starts the WebSocket engine */
  readonly acceptor: Acceptor;
  readonly #heartbeat: Heartbeat;
  readonly #attachments: Array<{ binding: ServerBinding; attachment: Attachment }> = [];
  readonly #errorHandlers: EndpointErrorHandler<Data, In, Out>[] = [];
  readonly #closeHandlers: EndpointCloseHandler<Data, In, Out>[] = [];
  readonly #faults: FaultLog;
  readonly #leaveBudget: () => void;
  /** Handshakes past their checks and not yet ended: they count toward `maxConnections`. */
  #handshaking = 0;
  #state = Running;
  #closing: Promise<void> | null = null;
  #allClosed: (() => void) | null = null;

  constructor(options?: EndpointOptions<Data>) {
    this.options = resolveOptions(options);
    this.#faults = new FaultLog(this.options.logger);
    this.acceptor = new Acceptor(this.options as ResolvedOptions<unknown>);
    this.#leaveBudget = joinBudget(() => this.#connections.values());
    this.#heartbeat = new Heartbeat(this.options as ResolvedOptions<unknown>, this.#connections as Map<string, Connection<unknown>>, this.counters);
    this.#channel = this.options.broker.connect(
      this.options.name,
      (publication) => this.deliver(publication),
      (error, stage) => this.reportBrokerError(error, stage),
      this.#brokerHost(),
      () => this.brokerRecovered(),
    );
    this.cluster = new Cluster<Data, Out>(this.#channel, this.options.ackTimeout);
  }

  /** What the broker may ask of this process: its presence, and requests for its connections. */
  #brokerHost(): BrokerHost {
    return {
      hasConnection: (id) => this.#connections.has(id),
      connectionIds: () => this.#connections.keys(),
      roomSize: (room) => this.rooms.members(room).size,
      roomNames: () => this.rooms.names(),
      handle: (id, request) => this.#handleRequest(id, request),
    };
  }

  async #handleRequest(id: string, request: ClusterRequest): Promise<RequestOutcome> {
    const connection = this.#connections.get(id) as Connection<Data, In, DefaultEventMap> | undefined;
    if (connection === undefined) return { status: "not-found" };
    if (request.type === "session") return { status: "ok", value: connection.data };
    try {
      return { status: "ok", value: await connection.emitWithAck(request.event, request.data, { timeout: request.timeout }) };
    } catch (error) {
      return outcomeOf(error);
    }
  }

  /** Sends to rooms or connection ids (each connection is also a room named by its id). */
  to(...targets: Targets): Broadcast<Out> {
    return this.#broadcast().to(...targets);
  }

  /** Sends to every connection except those in these rooms or with these ids. */
  except(...targets: Targets): Broadcast<Out> {
    return this.#broadcast().except(...targets);
  }

  /** Sends to every connection of the endpoint. */
  all(): Broadcast<Out> {
    return this.#broadcast();
  }

  /** Emits an event to every connection of the endpoint. */
  emit<K extends EventNames<Out>>(event: K, ...args: EventArgs<Out, K>): void {
    this.#broadcast().emit(event, ...args);
  }

  /** The connections of `room` in this process. */
  members(room: string): Connection<Data, In, Out>[] {
    return [...this.rooms.members(room)];
  }

  /** How many connections of this process are in `room`. */
  roomSize(room: string): number {
    return this.rooms.members(room).size;
  }

  /** The rooms that have members in this process. */
  roomNames(): string[] {
    return [...this.rooms.names()];
  }

  /** Called when a room gets its first member in this process. */
  onRoomCreated(listener: RoomListener): () => void {
    return this.rooms.onCreated(listener);
  }

  /** Called when a room loses its last member in this process. */
  onRoomEmptied(listener: RoomListener): () => void {
    return this.rooms.onEmptied(listener);
  }

  /** @internal hands a publication to the broker, which delivers it on every process. */
  publish(publication: Publication): void {
    this.#channel.publish(publication);
  }

  /**
   * @internal delivers a publication to this process's recipients: the message is framed once and the
   * same frame written to each recipient.
   */
  deliver(publication: Publication): void {
    const { to, except } = publication;
    let excluded: Set<Connection<Data, In, Out>> | null = null;
    if (except.length > 0) {
      excluded = new Set();
      for (const name of except) this.#addTarget(name, excluded);
    }
    let message: PreparedMessage | null = null;
    const send = (connection: Connection<Data, In, Out>): void => {
      if (excluded !== null && excluded.has(connection)) return;
      connection._sendPrepared((message ??= new PreparedMessage(publication.data, publication.binary)));
    };
    if (to.length === 0) {
      for (const connection of this.#connections.values()) send(connection);
    } else if (to.length === 1) {
      // One room (or id): walk it in place, no copy.
      const name = to[0]!;
      const members = this.rooms.members(name);
      for (const connection of members) send(connection);
      const byId = this.#connections.get(name);
      if (byId !== undefined && !members.has(byId)) send(byId);
    } else {
      const chosen = new Set<Connection<Data, In, Out>>();
      for (const name of to) this.#addTarget(name, chosen);
      for (const connection of chosen) send(connection);
    }
  }

  #addTarget(name: string, into: Set<Connection<Data, In, Out>>): void {
    for (const member of this.rooms.members(name)) into.add(member);
    const byId = this.#connections.get(name);
    if (byId !== undefined) into.add(byId);
  }

  #broadcast(): Broadcast<Out> {
    return new Broadcast<Out>((publication) => this.publish(publication));
  }

  /**
   * Attaches to the HTTP server that the framework listens on, so that upgrade requests run through
   * the framework's middleware and routes. Call it once per server; returns `this`.
   */
  attach(server: Server, options: AttachOptions = {}): this {
    requireServer(server, "ws.attach(server)");
    if (options === null || typeof options !== "object") {
      throw new TypeError(
        `wsmount: ws.attach(server, options) takes options as an object ({ shouldHandle }); got ${typeof options === "string" ? JSON.stringify(options) : typeof options}. ` +
          'The path belongs to the framework\'s route: app.get("/echo", ws.handler(onConnection)) on Express, router.get("/echo", ws.handler(onConnection)) on Koa; wsmount/node takes ws.attach(server, { path: "/echo" }, onConnection)',
      );
    }
    for (const key of Object.keys(options)) {
      if (key !== "shouldHandle") {
        throw new TypeError(
          `wsmount: ws.attach(server, options) has one option, "shouldHandle"; got "${key}"` +
            (key === "path" ? '. The path belongs to the framework\'s route (app.get("/echo", ws.handler(onConnection))), or to wsmount/node: ws.attach(server, { path: "/echo" }, onConnection)' : ""),
        );
      }
    }
    if (options.shouldHandle !== undefined && typeof options.shouldHandle !== "function") {
      throw new TypeError(`wsmount: option "shouldHandle" must be a function`);
    }
    const binding = bindingOf(server);
    if (this.#attachments.some((entry) => entry.binding === binding && !("handleUpgrade" in entry.attachment))) return this;
    const attachment: Attachment = {
      handshakeTimeout: this.options.handshakeTimeout,
      shouldHandle: options.shouldHandle,
      reportError: (error) => this.reportError(error),
    };
    binding.addRouted(attachment);
    this.#attachments.push({ binding, attachment });
    return this;
  }

  /** Detaches from `server` (or every server); open connections stay open. */
  detach(server?: Server): void {
    for (const entry of this.#attachments.slice()) {
      if (server === undefined || entry.binding === bindingOf(server)) {
        entry.binding.remove(entry.attachment);
        this.#attachments.splice(this.#attachments.indexOf(entry), 1);
      }
    }
  }

  /**
   * For adapters: upgrades a request that came through a wsmount `'upgrade'` listener and reached a
   * WebSocket route. Returns `false` when the request did not come that way (a plain GET, or a server
   * the endpoint is not attached to): answer it with {@link plainResponse}. When it returns `true`
   * the endpoint owns the socket: the framework must not respond.
   */
  accept<Context>(request: IncomingMessage, match: RouteMatch<Data, Context, In, Out>): boolean {
    const attempt = attemptOf(request);
    if (attempt === undefined) return false;
    if (attempt.phase !== Phase.Routing) return true;
    const responseHeaders = attempt.claim(this);
    const middlewareHeaders = match.headers === undefined ? responseHeaders : { ...responseHeaders, ...match.headers };
    this.#handshake(attempt, match, middlewareHeaders);
    return true;
  }

  /** For adapters: the answer to a request that reached a WebSocket route without an upgrade. */
  plainResponse(request: IncomingMessage): PlainResponse {
    if (this.#state !== Running) {
      return { status: 503, headers: { "Retry-After": "1" }, body: "WebSocket endpoint is shutting down" };
    }
    // Only a request that Node would have emitted as 'upgrade' proves a missing attach(); one with
    // `Upgrade: websocket` but no `Connection: upgrade` is plain HTTP and gets the 426 below.
    if (isUpgradeRequest(request)) {
      const error = new WsmountError(
        ErrorCode.NOT_ATTACHED,
        "wsmount: an upgrade request reached a WebSocket route, but the endpoint is not attached to this HTTP server; call ws.attach(server) with the server that app.listen() returned",
      );
      this.reportError(error);
      return { status: 500, headers: {}, body: "WebSocket endpoint not attached to this server (call ws.attach(server))" };
    }
    return { status: 426, headers: { Upgrade: "websocket", Connection: "Upgrade" }, body: "Upgrade Required: this route speaks WebSocket" };
  }

  /** For adapters that mount on a path without a framework (node:http). */
  protected mountPath<Context>(server: Server, path: string, onConnection: ConnectionHandler<Data, Context, In, Out>, context: (request: IncomingMessage) => Context): void {
    const binding = bindingOf(server);
    const handler: PathHandler = {
      handshakeTimeout: this.options.handshakeTimeout,
      reportError: (error) => this.reportError(error),
      handleUpgrade: (attempt) => {
        attempt.claim(this);
        this.#handshake(attempt, { onConnection, context: context(attempt.request) }, null);
      },
    };
    binding.addPath(path, handler);
    this.#attachments.push({ binding, attachment: handler });
  }

  /** Adds an endpoint-level error handler (all connections' errors and handshake failures). */
  onError(handler: EndpointErrorHandler<Data, In, Out>): () => void {
    return addListener(this.#errorHandlers, handler);
  }

  /** Adds an endpoint-level close handler, called for every connection that closes. */
  onClose(handler: EndpointCloseHandler<Data, In, Out>): () => void {
    return addListener(this.#closeHandlers, handler);
  }

  /** The number of open connections. */
  get size(): number {
    return this.#connections.size;
  }

  /** The open connections. */
  connections(): IterableIterator<Connection<Data, In, Out>> {
    return this.#connections.values();
  }

  /** The open connection with this id. */
  getConnection(id: string): Connection<Data, In, Out> | undefined {
    return this.#connections.get(id);
  }

  /** The session data of the open connection with this id. */
  getSession(id: string): Data | undefined {
    return this.#connections.get(id)?.data;
  }

  /**
   * Updates a connection's session: a plain-object `patch` is merged into plain-object data, anything
   * else replaces it. Returns `false` when no open connection has this id.
   */
  updateSession(id: string, patch: Partial<Data> | Data): boolean {
    const connection = this.#connections.get(id);
    if (connection === undefined) return false;
    const current = connection.data as unknown;
    connection.data = (isPlainObject(current) && isPlainObject(patch) ? { ...current, ...patch } : patch) as Data;
    return true;
  }

  /** A snapshot of the endpoint's counters. */
  stats(): EndpointStats {
    const c = this.counters;
    let bytesIn = c.closedBytesIn;
    let bytesOut = c.closedBytesOut;
    for (const connection of this.#connections.values()) {
      const [read, written] = connection._socketBytes();
      bytesIn += read;
      bytesOut += written;
    }
    return {
      connections: this.#connections.size,
      handshakes: { accepted: c.accepted, refused: { ...c.refused } },
      messagesIn: c.messagesIn,
      messagesOut: c.messagesOut,
      bytesIn,
      bytesOut,
      messagesDropped: c.messagesDropped,
      messagesRateLimited: c.messagesRateLimited,
      closedBy: { ...c.closedBy },
    };
  }

  /**
   * Graceful shutdown: new upgrades get `503`, open connections get a close frame (1001), their closing
   * handshakes are awaited up to `timeout`, the rest are terminated, and the endpoint detaches from
   * its servers. Calling it again returns the same promise.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    const timeout = options.timeout ?? 5000;
    if (!Number.isInteger(timeout) || timeout < 0) throw new TypeError(`wsmount: option "timeout" must be an integer >= 0; got ${String(timeout)}`);
    this.#state = Closing;
    this.#closing = this.#shutdown(timeout, options.code ?? 1001, options.reason ?? "server shutting down");
    return this.#closing;
  }

  async #shutdown(timeout: number, code: number, reason: string): Promise<void> {
    const allClosed = new Promise<void>((resolve) => {
      this.#allClosed = resolve;
    });
    if (this.#connections.size === 0) this.#allClosed?.();
    for (const connection of this.#connections.values()) {
      if (connection.readyState === 1) this.counters.closedBy.shutdown++;
      connection.close(code, reason);
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([allClosed, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeout)))]);
    clearTimeout(timer);
    for (const connection of this.#connections.values()) connection.terminate();
    await allClosed;
    this.#heartbeat.stop();
    this.#leaveBudget();
    this.detach();
    this.acceptor.close();
    await this.#channel.close();
    this.#state = Closed;
  }

  /** @internal */
  connectionClosed(connection: Connection<Data, In, Out>, code: number, reason: string): void {
    if (this.#connections.get(connection.id) === connection) {
      this.#connections.delete(connection.id);
      this.#connectionChanged(connection.id);
    }
    publish(connectionCloseChannel, { endpoint: this, connection, code, reason });
    for (const handler of this.#closeHandlers.slice()) callGuarded((error) => this.reportError(handlerFailed(error), connection), handler, connection, code, reason);
    if (this.#connections.size === 0) {
      this.#heartbeat.stop();
      this.#allClosed?.();
    }
  }

  /**
   * @internal every error of the endpoint and its connections: published on `wsmount:error`, then
   * given to the `onError` handlers; without any, server faults are logged once per episode.
   */
  reportError(error: Error, connection?: Connection<Data, In, Out>): void {
    publish(errorChannel, { endpoint: this, error, connection });
    if (this.#errorHandlers.length === 0) {
      if (isServerFault(error)) this.#faults.fault((error as WsmountError).code, error);
      return;
    }
    for (const handler of this.#errorHandlers.slice()) callGuarded(this.#errorHandlerFailed, handler, error, connection);
  }

  /** @internal the broker failed at `stage`: reported, and logged once per outage when nobody listens. */
  reportBrokerError(error: Error, stage: BrokerStage): void {
    publish(brokerErrorChannel, { endpoint: this, error, stage });
    this.reportError(new WsmountError(ErrorCode.BROKER, `wsmount: broker ${stage} failed: ${error.message}`, { cause: error }));
  }

  /** @internal the broker works again after a failure: the outage's episode ends. */
  brokerRecovered(): void {
    this.#faults.recovered(ErrorCode.BROKER, `the broker of endpoint "${this.options.name}"`);
  }

  /** Tells the broker's presence that a connection of this process opened or closed. */
  #connectionChanged(id: string): void {
    const cluster = this.#channel.cluster;
    if (cluster !== undefined) callGuarded(this.#presenceFailed, connectionChanged, cluster, id);
  }

  readonly #presenceFailed = (error: unknown): void => this.reportBrokerError(asError(error), "presence");

  readonly #errorHandlerFailed = (failure: unknown): void => {
    this.#faults.fault("error-handler", new WsmountError(ErrorCode.HANDLER_FAILED, `wsmount: an onError handler failed: ${asError(failure).message}`, { cause: failure }));
  };

  readonly #handlerFailed = (error: unknown): void => this.reportError(handlerFailed(error));

  /** @internal for the handshake: a refusal when no new handshake is taken now. */
  admission(): Refusal | null {
    if (this.#state !== Running) {
      return { status: 503, reason: "shutting-down", body: "WebSocket endpoint is shutting down", headers: { "Retry-After": "1" } };
    }
    if (this.#connections.size + this.#handshaking >= this.options.maxConnections) {
      return { status: 503, reason: "capacity", body: "Too many WebSocket connections", headers: { "Retry-After": "5" } };
    }
    if (this.#handshaking >= this.options.maxPendingHandshakes) {
      return { status: 503, reason: "busy", body: "Too many WebSocket handshakes under way", headers: { "Retry-After": "1" } };
    }
    return null;
  }

  /** @internal */
  holdSlot(delta: 1 | -1): void {
    this.#handshaking += delta;
  }

  /** @internal */
  hasConnection(id: string): boolean {
    return this.#connections.has(id);
  }

  #handshake<Context>(attempt: UpgradeAttempt, match: RouteMatch<Data, Context, In, Out>, middlewareHeaders: Record<string, unknown> | null): void {
    runHandshake(attempt, this, middlewareHeaders, (ws, id, data) => this.#open(ws, attempt.request, match, id, data as Data));
  }

  #open<Context>(ws: SocketLike, request: IncomingMessage, match: RouteMatch<Data, Context, In, Out>, id: string, data: Data): void {
    const info = new ConnectionRequest(requestUrl(request.url), paramsToKeep(match.params), connectionHeaders(request.headers), peerAddress(request.socket));
    const connection = new Connection<Data, In, Out>(ws, this, id, data, info, now());
    this.#connections.set(id, connection);
    this.#connectionChanged(id);
    this.counters.accepted++;
    this.#heartbeat.start();
    publish(connectionOpenChannel, { endpoint: this, connection });
    if (this.options.welcome) connection._welcome();
    const result = callGuarded((error) => this.#connectionHandlerFailed(connection, error), match.onConnection, connection, match.context);
    if (isThenable(result)) {
      // Messages that arrive while the async handler runs are held, then delivered in order.
      connection._hold();
      whenSettled(result, release, release, this.#handlerFailed);
    }
    function release(): void {
      connection._release();
    }
  }

  #connectionHandlerFailed(connection: Connection<Data, In, Out>, error: unknown): void {
    this.reportError(handlerFailed(error), connection);
    connection.close(1011, "internal error");
  }
}

/**
 * The room index of an endpoint, telling its broker whenever a room's membership here changes. A broker
 * that throws there (its contract says it never does) is reported, never thrown into a join, or into the
 * leaving of every room when a connection closes.
 */
class TrackedRooms<C extends RoomMember> extends Rooms<C> {
  readonly #changed: (room: string) => void;
  readonly #brokerFailed: (error: unknown) => void;

  constructor(options: {
    changed: (room: string) => void;
    brokerFailed: (error: unknown) => void;
    maxRoomsPerMember: () => number;
    failed: (error: Error, member: C) => void;
  }) {
    super(options);
    this.#changed = options.changed;
    this.#brokerFailed = options.brokerFailed;
  }

  override join(member: C, room: string): boolean {
    const joined = super.join(member, room);
    if (joined) callGuarded(this.#brokerFailed, this.#changed, room);
    return joined;
  }

  override leave(member: C, room: string): boolean {
    const left = super.leave(member, room);
    if (left) callGuarded(this.#brokerFailed, this.#changed, room);
    return left;
  }
}

/** Creates a framework-agnostic endpoint (adapters call this for you). */
export function createEndpoint<Data = unknown, In extends EventMap = DefaultEventMap, Out extends EventMap = DefaultEventMap>(
  options?: EndpointOptions<Data>,
): Endpoint<Data, In, Out> {
  return new Endpoint<Data, In, Out>(options);
}

/** A router's params, or one shared empty object instead of a per-request one on routes without params. */
function paramsToKeep(params: Readonly<Record<string, string>> | undefined): Readonly<Record<string, string>> {
  if (params !== undefined) for (const _ in params) return params;
  return NO_PARAMS;
}

function connectionChanged(cluster: ClusterLink, id: string): void {
  cluster.changed("connection", id);
}

function handlerFailed(error: unknown): WsmountError {
  return new WsmountError(ErrorCode.HANDLER_FAILED, `wsmount: a handler failed: ${asError(error).message}`, { cause: error });
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}


// Without an error handler, only the server's own faults are logged; what a misbehaving or vanished
// client causes (protocol violations, resets, timeouts) is the endpoint's business only when asked.
const SERVER_FAULTS = new Set<string>([ErrorCode.HANDLER_FAILED, ErrorCode.NOT_ATTACHED, ErrorCode.BROKER, ErrorCode.INTERNAL]);

function isServerFault(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && SERVER_FAULTS.has(code);
}
