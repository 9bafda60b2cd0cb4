/**
 * One endpoint's channel on the Redis broker: its publications (one Redis channel per endpoint, which
 * every process of the endpoint subscribes to), its presence, and requests between processes (one
 * Redis channel per process).
 * @module
 */
import { randomBytes } from "node:crypto";
import {
  ErrorCode,
  WsmountError,
  type BrokerChannel,
  type BrokerErrorHandler,
  type BrokerHost,
  type BrokerStage,
  type BrokerStats,
  type ClusterLink,
  type ClusterRequest,
  type Publication,
  type RequestOutcome,
} from "../../core/index.js";
import type { BrokerRecoveredHandler } from "../../core/broker.js";
import { callAsync, callGuarded, whenSettled } from "../../core/guard.js";
import type { ConnectionsMember, RedisConnections } from "./connections.js";
import type { ResolvedRedisOptions } from "./options.js";
import { Presence } from "./presence.js";
import { Requests } from "./requests.js";
import { locateScript, roomSizeScript } from "./scripts.js";
import { decodeNodeMessage, decodePublication, encodeAnswer, encodePublication, encodeRequest } from "./wire.js";

/** An endpoint's channel on Redis; it is also the endpoint's cluster link. */
export class RedisChannel implements BrokerChannel, ClusterLink, ConnectionsMember {
  /** This process's id on the channel: random per channel, so a process never takes its own messages for another's. */
  readonly node = randomBytes(9).toString("base64url");
  readonly #connections: RedisConnections;
  readonly #options: ResolvedRedisOptions;
  readonly #deliver: (publication: Publication) => void;
  readonly #onError: BrokerErrorHandler;
  readonly #onRecovered: BrokerRecoveredHandler | undefined;
  readonly #host: BrokerHost;
  readonly #base: string;
  readonly #publications: string;
  readonly #inbox: string;
  /** Null for a channel without a host (used directly, not by an endpoint): nothing to tell. */
  readonly #presence: Presence | null;
  readonly #requests = new Requests();
  readonly #heartbeat: NodeJS.Timeout;
  readonly #onClosed: (channel: RedisChannel) => Promise<void>;
  readonly #stats = { published: 0, received: 0, dropped: 0, errors: 0 };
  #dropReported = false;
  #closing: Promise<void> | null = null;

  constructor(
    connections: RedisConnections,
    options: ResolvedRedisOptions,
    name: string,
    deliver: (publication: Publication) => void,
    onError: BrokerErrorHandler,
    host: BrokerHost | undefined,
    onRecovered: BrokerRecoveredHandler | undefined,
    onClosed: (channel: RedisChannel) => Promise<void>,
  ) {
    this.#connections = connections;
    this.#options = options;
    this.#deliver = deliver;
    this.#onError = onError;
    this.#onRecovered = onRecovered;
    this.#host = host ?? NO_HOST;
    this.#onClosed = onClosed;
    this.#base = `${options.prefix}:${name}`;
    this.#publications = `${this.#base}:pub`;
    this.#inbox = this.#nodeKey(this.node);
    const keys = { nodes: `${this.#base}:nodes`, alive: `${this.#inbox}:alive`, conns: `${this.#inbox}:conns`, rooms: `${this.#inbox}:rooms` };
    this.#presence = host === undefined ? null : new Presence(connections.command, host, this.node, keys, options.nodeTimeout, (error) => this.#fault(error, "presence"));
    connections.subscribe(this.#publications, this.#onPublication, (error) => this.#fault(error, "subscribe"));
    connections.subscribe(this.#inbox, this.#onNodeMessage, (error) => this.#fault(error, "subscribe"));
    this.#heartbeat = setInterval(() => this.#beat(), options.heartbeatInterval).unref();
    connections.add(this);
  }

  /** The cluster side of this channel (the channel itself). */
  get cluster(): ClusterLink {
    return this;
  }

  publish(publication: Publication): void {
    if (this.#closing !== null) return;
    if (this.#connections.commandReady) {
      try {
        const message = encodePublication(this.node, publication);
        this.#stats.published++;
        this.#connections.command.publish(this.#publications, message).catch((error: unknown) => {
          this.#stats.published--;
          this.#stats.dropped++;
          this.#fault(error, "publish");
        });
      } catch (error) {
        this.#fault(error, "publish");
      }
    } else {
      this.#dropped();
    }
    callGuarded(this.#deliverFailed, this.#deliver, publication);
  }

  changed(kind: "connection" | "room", name: string): void {
    this.#presence?.changed(kind, name);
  }

  async isOnline(id: string): Promise<boolean> {
    if (this.#host.hasConnection(id)) return true;
    return (await this.#locate(id)) !== null;
  }

  async roomSize(room: string): Promise<number> {
    this.#requireRedis();
    return Number(await roomSizeScript.run(this.#connections.command, `${this.#base}:nodes`, `${this.#base}:node:`, room));
  }

  async request(id: string, request: ClusterRequest): Promise<RequestOutcome> {
    if (this.#host.hasConnection(id)) return this.#host.handle(id, request);
    const owner = await this.#locate(id);
    if (owner === null) return { status: "not-found" };
    // The connection was here a moment ago and has just left.
    if (owner === this.node) return this.#host.handle(id, request);
    const { requestTimeout } = this.#options;
    const timeout = request.type === "emitWithAck" ? (request.timeout === 0 ? 0 : request.timeout + requestTimeout) : requestTimeout;
    return this.#requests.start(owner, timeout, (rid) => this.#connections.command.publish(this.#nodeKey(owner), encodeRequest(this.node, rid, id, request)));
  }

  stats(): BrokerStats {
    return { connected: this.#connections.connected, ...this.#stats, reconnects: this.#connections.reconnects };
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** For RedisConnections: the command connection is (again) ready. */
  commandReady(): void {
    this.#dropReported = false;
    // After the reconnect's own work (resubscribing, flushing queues) has gone out.
    setImmediate(() => {
      if (this.#closing === null) this.#presence?.resync();
    });
  }

  /** For RedisConnections: Redis is unreachable. */
  outage(error: Error): void {
    this.#fault(error, "connect");
  }

  /** For RedisConnections: Redis is reachable again after a reported outage, subscriptions included. */
  recovered(): void {
    if (this.#closing !== null || this.#onRecovered === undefined) return;
    callGuarded(this.#connectFailed, this.#onRecovered);
  }

  readonly #connectFailed = (error: unknown): void => this.#fault(error, "connect");

  /** For RedisConnections: the command connection was lost: presence is rewritten once it is back. */
  commandLost(): void {
    this.#presence?.lost();
  }

  /** For RedisConnections: the subscription was lost: answers in flight are lost with it. */
  subscriberLost(): void {
    if (this.#requests.size > 0) {
      this.#requests.failAll(new WsmountError(ErrorCode.BROKER, "wsmount: the connection to Redis was lost before the answer arrived"));
    }
  }

  async #close(): Promise<void> {
    clearInterval(this.#heartbeat);
    this.#requests.failAll(new WsmountError(ErrorCode.BROKER, "wsmount: the endpoint closed before the answer arrived"));
    this.#connections.unsubscribe(this.#publications, this.#onPublication);
    this.#connections.unsubscribe(this.#inbox, this.#onNodeMessage);
    await this.#presence?.stop();
    await this.#onClosed(this);
  }

  #beat(): void {
    this.#presence?.heartbeat();
    this.#checkOwners();
  }

  /** Ends the requests waiting on processes that have died (their `alive` key expired). */
  #checkOwners(): void {
    if (this.#requests.size === 0 || !this.#connections.commandReady) return;
    const command = this.#connections.command;
    for (const owner of this.#requests.owners()) {
      command.exists(`${this.#nodeKey(owner)}:alive`).then(
        (count) => count === 0 && this.#requests.ownerGone(owner),
        () => {},
      );
    }
  }

  async #locate(id: string): Promise<string | null> {
    this.#requireRedis();
    const node = await locateScript.run(this.#connections.command, `${this.#base}:nodes`, `${this.#base}:node:`, id);
    return typeof node === "string" ? node : null;
  }

  #requireRedis(): void {
    if (!this.#connections.commandReady) throw new WsmountError(ErrorCode.BROKER, "wsmount: Redis is unreachable, cluster-wide queries cannot be answered now");
  }

  readonly #onPublication = (message: Buffer): void => {
    const received = decodePublication(message);
    if (received === null) {
      this.#fault(new Error(`an invalid message arrived on ${this.#publications}; is another application using the prefix "${this.#options.prefix}"?`), "deliver");
      return;
    }
    if (received.node === this.node || this.#closing !== null) return;
    this.#stats.received++;
    callGuarded(this.#deliverFailed, this.#deliver, received.publication);
  };

  readonly #deliverFailed = (error: unknown): void => this.#fault(error, "deliver");
  readonly #requestFailed = (error: unknown): void => this.#fault(error, "request");

  readonly #onNodeMessage = (message: Buffer): void => {
    const decoded = decodeNodeMessage(message.toString());
    if (decoded === null) {
      this.#fault(new Error(`an invalid message arrived on ${this.#inbox}`), "request");
      return;
    }
    if (decoded.kind === "answer") {
      this.#requests.answer(decoded.rid, decoded.outcome);
      return;
    }
    const { from, rid, id, request } = decoded;
    whenSettled(
      callAsync(() => this.#host.handle(id, request)),
      (outcome) => {
        // Unreachable: the asking process fails or times out the request on its side.
        if (!this.#connections.commandReady) return;
        this.#connections.command.publish(this.#nodeKey(from), encodeAnswer(rid, outcome)).catch(this.#requestFailed);
      },
      this.#requestFailed,
      this.#requestFailed,
    );
  };

  #dropped(): void {
    this.#stats.dropped++;
    if (this.#dropReported) return;
    this.#dropReported = true;
    this.#fault(new Error("Redis is unreachable: publications reach this process only, until it is back (they are not replayed)"), "publish");
  }

  #nodeKey(node: string): string {
    return `${this.#base}:node:${node}`;
  }

  #fault(error: unknown, stage: BrokerStage): void {
    this.#stats.errors++;
    this.#onError(error instanceof Error ? error : new Error(String(error)), stage);
  }
}

/** The host of a channel opened without one: a process with no connections to tell about. */
const NO_HOST: BrokerHost = {
  hasConnection: () => false,
  connectionIds: () => [],
  roomSize: () => 0,
  roomNames: () => [],
  handle: async () => ({ status: "not-found" }),
};
